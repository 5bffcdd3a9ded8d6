-- API tokens: the people and programs that call `kaji serve`, each with one role of a closed set
-- (APIRole: viewer < operator < approver < admin). Only the SHA-256 of a token is kept; the token itself is
-- printed once by `kaji token create`. The actor of everything done with a token is `token:NAME`, so a name
-- is never reused: a revoked token keeps its row (and its name) for the audit trail.

CREATE TABLE api_tokens (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    hash         bytea NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK (expires_at IS NULL OR expires_at > created_at)
);
