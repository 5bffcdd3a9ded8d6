-- Engine coordination: durable waits, signals and approvals, concurrency keys, cancellation, compensation.

-- A step can wait (a durable sleep, a signal, a polled condition); `wait` keeps the wait's deadline and
-- its last observation for the history.
ALTER TABLE steps DROP CONSTRAINT steps_state_check;
ALTER TABLE steps ADD CONSTRAINT steps_state_check
    CHECK (state IN ('running', 'retrying', 'succeeded', 'failed', 'pending', 'waiting'));
ALTER TABLE steps ADD COLUMN wait jsonb;

ALTER TABLE runs
    -- At most one run per key is active (claimed and not finished) at a time.
    ADD COLUMN concurrency_key     text,
    -- Bumped by every signal: a run about to suspend sees it and runs again at once instead.
    ADD COLUMN wakeups             bigint NOT NULL DEFAULT 0,
    ADD COLUMN cancel_requested_at timestamptz,
    ADD COLUMN cancel_requested_by text,
    ADD COLUMN cancel_reason       text,
    -- `compensating` while the workflow's undo steps run after a final failure or a cancel.
    ADD COLUMN phase               text NOT NULL DEFAULT 'forward' CHECK (phase IN ('forward', 'compensating'));

CREATE INDEX runs_concurrency_key ON runs (concurrency_key, priority DESC, run_at, id)
    WHERE concurrency_key IS NOT NULL AND state IN ('pending', 'retrying', 'waiting', 'running');

-- Which run holds each concurrency key: taken by the claim that first starts the run, released when the
-- run finishes.
CREATE TABLE concurrency_locks (
    key         text        PRIMARY KEY,
    run_id      uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    acquired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX concurrency_locks_run ON concurrency_locks (run_id);

-- Signals sent to runs (approvals among them). A signal sent before the run waits for it is kept.
CREATE TABLE signals (
    id               bigserial   PRIMARY KEY,
    run_id           uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    payload          jsonb       NOT NULL DEFAULT '{}',
    sender           text        NOT NULL,
    sent_at          timestamptz NOT NULL DEFAULT now(),
    consumed_at      timestamptz,
    consumed_by_step text
);
CREATE INDEX signals_unconsumed ON signals (run_id, name, id) WHERE consumed_at IS NULL;
