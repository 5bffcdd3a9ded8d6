-- Kaji coordination, part 2: cron schedules, encrypted secrets and a verifiable (hash-chained) audit log. Applied by `kaji migrate` like every migration (one transaction, advisory lock).

-- Cron schedules. Each due tick enqueues one run with the idempotency key `schedule:NAME:TICK`, so that
-- however many workers look at a due row at once, one run per tick exists.
CREATE TABLE schedules (
    name         text        PRIMARY KEY,
    cron         text        NOT NULL,
    timezone     text        NOT NULL DEFAULT 'UTC',
    kind         text        NOT NULL,
    input        jsonb       NOT NULL,
    queue        text        NOT NULL DEFAULT 'default',
    priority     smallint    NOT NULL DEFAULT 0,
    -- The runs' concurrency key (e.g. cluster:prod-a), if any.
    concurrency_key text,
    max_attempts integer     NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    paused       boolean     NOT NULL DEFAULT false,
    -- The next tick not yet enqueued (absolute time, computed from cron + timezone).
    next_run_at  timestamptz NOT NULL,
    last_tick_at timestamptz,
    last_run_id  uuid,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE NOT paused;

-- Secret values, encrypted with AES-256-GCM (nonce || ciphertext || tag, the secret's id as associated
-- data) under the key of KAJI_SECRET_KEY / KAJI_SECRET_KEY_FILE. `key_id` is a fingerprint of that key
-- (not the key), so that a wrong key is reported as such. No plaintext column, and no FK to runs: a
-- secret outlives the run that stored it (a cluster's password outlives the rotation run).
CREATE TABLE secrets (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL,
    ciphertext bytea       NOT NULL,
    key_id     text        NOT NULL,
    run_id     uuid,
    step       text,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX secrets_name ON secrets (name, created_at DESC);

-- Verifiable audit, part 1: which transaction wrote each event. Writers do nothing new (a column default and
-- an index entry); the sealer uses it to know which events can no longer appear behind its back.
ALTER TABLE audit_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_events_seal ON audit_events (xid, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);

-- Verifiable audit, part 2: the hash chain, appended by one sealer at a time (transaction advisory lock),
-- never by the hot path. hash = SHA-256(prev_hash || seq || canonical event), computed in Swift (see
-- AuditChain.swift). `field_digests` holds a 4-byte digest (FNV-1a) per event column so that verification can say
-- which column of an altered event differs.
CREATE TABLE audit_chain (
    seq           bigint      PRIMARY KEY CHECK (seq >= 1),
    event_id      bigint      NOT NULL UNIQUE,
    event_xid     xid8        NOT NULL,
    prev_hash     bytea       NOT NULL,
    hash          bytea       NOT NULL,
    field_digests bytea       NOT NULL,
    sealed_at     timestamptz NOT NULL DEFAULT now()
);

-- The snapshot of the sealer's last complete round: every event visible in it is in the chain, so the next
-- round looks only at events of transactions that were still running then (its xip list) or began later
-- (xid >= its xmax). The first round ('1:1:') looks at everything.
CREATE TABLE audit_seal_state (
    singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    snap      pg_snapshot NOT NULL DEFAULT '1:1:'
);
INSERT INTO audit_seal_state DEFAULT VALUES;

-- Append-only: UPDATE, DELETE and TRUNCATE are refused for every session whose triggers fire (a superuser
-- can bypass with session_replication_role = replica, which `kaji audit verify` then detects).
CREATE FUNCTION kaji_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION kaji_refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION kaji_refuse_audit_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION kaji_refuse_audit_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION kaji_refuse_audit_change();

-- Retention needs no index of its own: run ids are UUIDv7, so runs created before the cutoff (the only
-- ones that can have finished before it) are a range of the primary key.
