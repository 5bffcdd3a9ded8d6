-- Kaji engine core: runs, their payloads, steps and step attempts, workers, audit events.
-- Applied by `kaji migrate` inside one transaction under an advisory lock, with search_path set to the
-- target schema. Never edit a migration that has shipped: add the next number instead.

-- The hot row: small, one per run, the only table the claim path reads.
CREATE TABLE runs (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL,
    queue            text        NOT NULL DEFAULT 'default',
    priority         smallint    NOT NULL DEFAULT 0,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'waiting', 'retrying', 'succeeded', 'failed', 'cancelled')),
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempt          integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    max_attempts     integer     NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    epoch            bigint      NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    idempotency_key  text,
    actor            text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    last_error       text
) WITH (fillfactor = 70);

-- Claiming reads only runs that can start; finished history never enters this index.
CREATE INDEX runs_claimable ON runs (queue, priority DESC, run_at, id) WHERE state IN ('pending', 'retrying', 'waiting');
-- The rescuer scans only leased runs.
CREATE INDEX runs_leased ON runs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Run ids are UUIDv7 (time-ordered): the primary key gives the newest runs first and takes inserts at its
-- right edge. Listing by state reads this partial index; succeeded runs (the bulk of history) stay out of
-- it, and so do the updates that finish runs.
CREATE INDEX runs_unsucceeded ON runs (state, id) WHERE state <> 'succeeded';

-- Cold payloads, apart from the hot row so that claiming and lease renewal never rewrite them.
CREATE TABLE run_payloads (
    run_id uuid  PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    input  jsonb NOT NULL,
    output jsonb
) WITH (fillfactor = 80);

-- One row per (run, step name): the checkpoint. `budget_start` is the attempt count at which the current
-- retry budget began (a `kaji retry` gives a failed step a fresh budget without forgetting its history).
CREATE TABLE steps (
    run_id       uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('running', 'retrying', 'succeeded', 'failed', 'pending')),
    attempts     integer     NOT NULL DEFAULT 0,
    budget_start integer     NOT NULL DEFAULT 0,
    result       jsonb,
    error        text,
    epoch        bigint      NOT NULL,
    worker       text,
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (run_id, name)
);

-- Every finished attempt of every step, kept with its error.
CREATE TABLE step_attempts (
    run_id      uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step        text        NOT NULL,
    attempt     integer     NOT NULL,
    epoch       bigint      NOT NULL,
    worker      text,
    outcome     text        NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
    error       text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, step, attempt, epoch)
);

-- Worker processes: registration and heartbeat.
CREATE TABLE workers (
    id           text        PRIMARY KEY,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    queues       text[]      NOT NULL,
    concurrency  integer     NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);

-- Append-only history of every change of state. Audit events outlive the runs they describe (no FK).
CREATE TABLE audit_events (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id  uuid,
    type    text        NOT NULL,
    actor   text        NOT NULL,
    step    text,
    attempt integer,
    epoch   bigint,
    worker  text,
    detail  jsonb
);
CREATE INDEX audit_events_run ON audit_events (run_id, id);
