-- Slack (`kaji serve`, /slack/commands and /slack/interactions).
--
-- slack_requests: every Slack request acted on, by its id (`command:TRIGGER_ID`, `interaction:TRIGGER_ID`
-- or `interaction:ACTION_TS`). The row is taken before the request is acted on, so a retried or repeated
-- request finds it and is answered with what the first one answered instead of acting again (a repeated
-- `/kaji apply` enqueues once). run_id is informational: it does not hold a pruned run back.
CREATE TABLE slack_requests (
    key          text        PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 300),
    actor        text        NOT NULL,
    answer       text,
    run_id       uuid,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_requests_received ON slack_requests (received_at);

-- slack_follows: runs started from Slack whose progress and outcome `kaji serve` posts to the command's
-- response_url. phase is what has been reported so far (SlackPhase); a serve process moves it from one
-- phase to the next with a compare-and-set before posting, so several serve processes on one database post
-- each message once, and a restarted one goes on where the last stopped.
CREATE TABLE slack_follows (
    run_id        uuid        PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    response_url  text        NOT NULL CHECK (response_url ~ '^https?://'),
    requester     text        NOT NULL,
    phase         text        NOT NULL DEFAULT 'enqueued'
                  CHECK (phase IN ('enqueued', 'started', 'approval', 'approved', 'finished')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (length(response_url) <= 2000)
);
CREATE INDEX slack_follows_open ON slack_follows (created_at) WHERE phase <> 'finished';

-- slack_posts: how many messages went to each response_url (by the SHA-256 of the URL) since its window
-- opened. Slack takes at most 5 posts in 30 minutes per response_url; past that, messages go to the
-- configured incoming webhook.
CREATE TABLE slack_posts (
    url_hash      bytea       PRIMARY KEY CHECK (octet_length(url_hash) = 32),
    posts         integer     NOT NULL CHECK (posts >= 0),
    window_start  timestamptz NOT NULL DEFAULT now()
);
