-- Approval prompts in Slack for runs not started from Slack (issue 10): a run started from the CLI, the
-- HTTP API or a schedule that waits for its approval gets the message with Approve / Reject buttons on the
-- configured incoming webhook, and then its outcome there. (Runs started from Slack are in slack_follows
-- and report to their command's response_url instead.)
--
-- slack_prompts: one row per such run, taken by the serve process that posts its prompt. phase is what has
-- been posted so far (SlackPhase: approval, approved, finished); a serve process moves it with a
-- compare-and-set before posting (and back when the post failed, so that it is tried again), so several
-- serve processes on one database post each message once, and a restarted one goes on where the last
-- stopped. No row is written while no webhook is configured.
CREATE TABLE slack_prompts (
    run_id      uuid        PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    requester   text        NOT NULL,
    phase       text        NOT NULL DEFAULT 'approval' CHECK (phase IN ('approval', 'approved', 'finished')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_prompts_open ON slack_prompts (created_at) WHERE phase <> 'finished';
