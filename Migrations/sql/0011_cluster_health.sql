-- API health checks of the clusters (issue 11): every cluster in state `ready` is asked
-- `GET https://VIP:6443/readyz?verbose=true` with its CA pinned, every `healthCheck.interval` (30 s by
-- default), by whichever worker claims it first; the results are kept here, so `kaji serve` exports one set
-- of numbers whichever worker checked.

-- The cluster CA, PEM, recorded at provision from the first master's admin.conf
-- (certificate-authority-data): the only root the checker trusts for this cluster.
ALTER TABLE clusters ADD COLUMN api_ca_certificate text;

-- One row per cluster ever checked: who may check it next (the claim), and its latest result.
CREATE TABLE cluster_health (
    cluster          text PRIMARY KEY REFERENCES clusters (name) ON DELETE CASCADE,
    -- The claim: a worker takes a cluster whose next_check_at has come and whose lease is free or expired,
    -- moving next_check_at one interval on in the same statement (so one check per interval, however many
    -- workers); only the holder of lease_token may record the result.
    next_check_at    timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_token      uuid,
    lease_until      timestamptz,
    -- The latest result (NULL until the first one is recorded).
    checked_at       timestamptz,
    checked_by       text,
    up               boolean,          -- the API server answered with a readyz report
    passed           boolean,          -- HTTP 200 and `readyz check passed`
    failure          text CHECK (failure IN ('connect', 'tls', 'timeout', 'http', 'configuration')),
    reason           text,             -- why it is down or not passing; NULL when it passed
    http_status      integer,
    duration_seconds double precision, -- the call, from connect to the end of the answer
    checks           jsonb,            -- [{"name": "etcd", "ok": false, "detail": "failed: reason withheld"}]
    -- The last change: `status` sums a result up (e.g. `up`, `failing: etcd`, `down: connect`); when a
    -- result's status differs from the stored one, status_since is its time and previous_status the old one.
    status           text,
    status_since     timestamptz,
    previous_status  text,
    CHECK ((lease_token IS NULL) = (lease_until IS NULL)),
    CHECK ((checked_at IS NULL) = (up IS NULL))
);

-- Every result, kept for a bounded time (each recorded result deletes its cluster's rows older than the
-- retention the checker gives, 24 h by default).
CREATE TABLE cluster_health_checks (
    id               bigserial PRIMARY KEY,
    cluster          text NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
    checked_at       timestamptz NOT NULL,
    checked_by       text NOT NULL,
    up               boolean NOT NULL,
    passed           boolean NOT NULL,
    failure          text CHECK (failure IN ('connect', 'tls', 'timeout', 'http', 'configuration')),
    reason           text,
    http_status      integer,
    duration_seconds double precision NOT NULL,
    checks           jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX cluster_health_checks_cluster_time ON cluster_health_checks (cluster, checked_at);
