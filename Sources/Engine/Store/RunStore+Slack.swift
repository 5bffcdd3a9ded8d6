import Foundation
import PostgresNIO

/// A Slack request's row: what was answered, and the run it started.
package struct SlackRequestRow: Sendable {
    package var answer: String?
    package var runID: UUID?
}

/// A followed run as the follower reads it: the follow row with the run's state.
package struct SlackFollowRow: Sendable {
    package var runID: UUID
    package var responseURL: String
    package var requester: String
    package var phase: String
    package var kind: String
    package var state: String
    package var lastError: String?
    package var cancelRequestedBy: String?
    /// Whether a step of the run waits for the `approval` signal now.
    package var awaitingApproval: Bool
}

/// A run prompted for its approval on the incoming webhook, as the follower reads it: the prompt row with
/// the run's state.
package struct SlackPromptRow: Sendable {
    package var runID: UUID
    package var requester: String
    package var phase: String
    package var kind: String
    package var state: String
    package var lastError: String?
    package var cancelRequestedBy: String?
    /// Whether a step of the run waits for the `approval` signal now.
    package var awaitingApproval: Bool
}

extension RunStore {
    /// The condition on a step `s` that waits for the `approval` signal now.
    static let waitsForApproval = "s.state = 'waiting' AND s.wait ->> 'kind' = 'signal' AND s.wait ->> 'signal' = 'approval'"

    /// Takes `key` for a Slack request about to be acted on; nil when it was new (the caller acts), else
    /// the row of the request that took it first (its answer may still be nil while that one is at work).
    package func claimSlackRequest(key: String, actor: String) async throws -> SlackRequestRow? {
        let query: PostgresQuery = """
            WITH ins AS (
                INSERT INTO slack_requests (key, actor) VALUES (\(key), \(actor))
                ON CONFLICT (key) DO NOTHING
                RETURNING key
            )
            SELECT (SELECT count(*) FROM ins) = 1, r.answer, r.run_id
            FROM (SELECT 1) AS one LEFT JOIN slack_requests AS r ON r.key = \(key) AND NOT EXISTS (SELECT 1 FROM ins)
            """
        for try await (claimed, answer, run) in try await client.query(query, logger: logger).decode((Bool, String?, UUID?).self) {
            return claimed ? nil : SlackRequestRow(answer: answer, runID: run)
        }
        return nil
    }

    /// Keeps the answer given to the request `key` (and the run it started), for its repeats.
    package func recordSlackAnswer(key: String, answer: String, runID: UUID?) async throws {
        try await client.query("UPDATE slack_requests SET answer = \(answer), run_id = \(runID) WHERE key = \(key)", logger: logger)
    }

    /// Follows `runID` for `responseURL` (the first follow of a run wins) and opens the URL's post window
    /// now (Slack counts it from the command). Returns whether this call made the follow.
    package func insertSlackFollow(runID: UUID, responseURL: String, urlHash: Data, requester: String) async throws -> Bool {
        let query: PostgresQuery = try """
            WITH post AS (
                INSERT INTO slack_posts (url_hash, posts) VALUES (\(urlHash), 0) ON CONFLICT (url_hash) DO NOTHING
            )
            INSERT INTO slack_follows (run_id, response_url, requester) VALUES (\(runID), \(responseURL), \(requester))
            ON CONFLICT (run_id) DO NOTHING
            RETURNING run_id
            """
        for try await _ in try await client.query(query, logger: logger).decode(UUID.self) { return true }
        return false
    }

    /// Follows not finished yet, oldest first, with their runs' state.
    package func openSlackFollows(limit: Int) async throws -> [SlackFollowRow] {
        let query: PostgresQuery = """
            SELECT f.run_id, f.response_url, f.requester, f.phase, r.kind, r.state, r.last_error, r.cancel_requested_by,
                   EXISTS (SELECT 1 FROM steps AS s
                           WHERE s.run_id = f.run_id AND \(unescaped: Self.waitsForApproval))
            FROM slack_follows AS f JOIN runs AS r ON r.id = f.run_id
            WHERE f.phase <> 'finished'
            ORDER BY f.created_at LIMIT \(limit)
            """
        var rows: [SlackFollowRow] = []
        let decoded = try await client.query(query, logger: logger).decode((UUID, String, String, String, String, String, String?, String?, Bool).self)
        for try await (run, url, requester, phase, kind, state, error, cancelledBy, awaiting) in decoded {
            rows.append(SlackFollowRow(runID: run, responseURL: url, requester: requester, phase: phase, kind: kind, state: state,
                                       lastError: error, cancelRequestedBy: cancelledBy, awaitingApproval: awaiting))
        }
        return rows
    }

    /// Moves a follow from phase `from` to `to`; false when it was not at `from` (another process moved it).
    package func advanceSlackFollow(runID: UUID, from: String, to: String) async throws -> Bool {
        try await count("""
            WITH up AS (
                UPDATE slack_follows SET phase = \(to), updated_at = now() WHERE run_id = \(runID) AND phase = \(from) RETURNING 1
            )
            SELECT count(*)::int8 FROM up
            """) == 1
    }

    /// Counts one post to the response URL of `urlHash` when its window (opened by its first post or its
    /// follow, `window` long) is still open and at most `max - keep - 1` posts went there already; false
    /// otherwise (nothing is counted).
    package func reserveSlackPost(urlHash: Data, keep: Int, max: Int, window: Duration) async throws -> Bool {
        let seconds = Double(window.components.seconds)
        let query: PostgresQuery = try """
            INSERT INTO slack_posts (url_hash, posts) VALUES (\(urlHash), 1)
            ON CONFLICT (url_hash) DO UPDATE SET posts = slack_posts.posts + 1
            WHERE slack_posts.posts + 1 + \(keep) <= \(max)
              AND slack_posts.window_start > now() - make_interval(secs => \(seconds))
            RETURNING posts
            """
        for try await _ in try await client.query(query, logger: logger).decode(Int.self) { return true }
        return false
    }

    /// Forgets Slack requests and post counts older than `age`, and finished follows and prompts older than
    /// `age`. Returns how many rows went.
    package func pruneSlack(olderThan age: Duration) async throws -> Int {
        let seconds = Double(age.components.seconds)
        return try await count("""
            WITH a AS (DELETE FROM slack_requests WHERE received_at < now() - make_interval(secs => \(seconds)) RETURNING 1),
                 b AS (DELETE FROM slack_posts WHERE window_start < now() - make_interval(secs => \(seconds)) RETURNING 1),
                 c AS (DELETE FROM slack_follows WHERE phase = 'finished' AND updated_at < now() - make_interval(secs => \(seconds)) RETURNING 1),
                 d AS (DELETE FROM slack_prompts WHERE phase = 'finished' AND updated_at < now() - make_interval(secs => \(seconds)) RETURNING 1)
            SELECT ((SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM c) + (SELECT count(*) FROM d))::int8
            """)
    }

    /// Takes, for the caller to post their approval prompts, up to `limit` runs that are suspended waiting
    /// for the `approval` signal and have neither a prompt row nor a Slack follow (a run started from Slack
    /// is prompted on its command's `response_url`). A run whose actor is a Slack user is taken only once it
    /// is older than `slackGrace`: `/kaji` follows the run it enqueued a moment after the enqueue, and this
    /// must not prompt it twice. Each row is inserted at phase `approval`; a run another process took first
    /// is not returned. The requester is whom the wait excludes, else the run's actor.
    package func claimSlackPrompts(limit: Int, slackGrace: Duration) async throws -> [(runID: UUID, kind: String, requester: String)] {
        let grace = Double(slackGrace.components.seconds)
        let query: PostgresQuery = """
            WITH waiting AS (
                SELECT DISTINCT ON (r.id) r.id, r.kind, coalesce(s.wait ->> 'excludedSender', r.actor) AS requester
                FROM runs AS r JOIN steps AS s ON s.run_id = r.id
                WHERE r.state = 'waiting'
                  AND \(unescaped: Self.waitsForApproval)
                  AND NOT EXISTS (SELECT 1 FROM slack_follows AS f WHERE f.run_id = r.id)
                  AND NOT EXISTS (SELECT 1 FROM slack_prompts AS p WHERE p.run_id = r.id)
                  AND (r.actor NOT LIKE 'slack:%' OR r.created_at < now() - make_interval(secs => \(grace)))
                ORDER BY r.id
                LIMIT \(limit)
            ), ins AS (
                INSERT INTO slack_prompts (run_id, requester) SELECT id, requester FROM waiting
                ON CONFLICT (run_id) DO NOTHING
                RETURNING run_id, requester
            )
            SELECT ins.run_id, w.kind, ins.requester FROM ins JOIN waiting AS w ON w.id = ins.run_id ORDER BY ins.run_id
            """
        var rows: [(runID: UUID, kind: String, requester: String)] = []
        for try await (run, kind, requester) in try await client.query(query, logger: logger).decode((UUID, String, String).self) {
            rows.append((run, kind, requester))
        }
        return rows
    }

    /// Prompts whose outcome has not been posted, oldest first, with their runs' state.
    package func openSlackPrompts(limit: Int) async throws -> [SlackPromptRow] {
        let query: PostgresQuery = """
            SELECT p.run_id, p.requester, p.phase, r.kind, r.state, r.last_error, r.cancel_requested_by,
                   EXISTS (SELECT 1 FROM steps AS s
                           WHERE s.run_id = p.run_id AND \(unescaped: Self.waitsForApproval))
            FROM slack_prompts AS p JOIN runs AS r ON r.id = p.run_id
            WHERE p.phase <> 'finished'
            ORDER BY p.created_at LIMIT \(limit)
            """
        var rows: [SlackPromptRow] = []
        let decoded = try await client.query(query, logger: logger).decode((UUID, String, String, String, String, String?, String?, Bool).self)
        for try await (run, requester, phase, kind, state, error, cancelledBy, awaiting) in decoded {
            rows.append(SlackPromptRow(runID: run, requester: requester, phase: phase, kind: kind, state: state,
                                       lastError: error, cancelRequestedBy: cancelledBy, awaitingApproval: awaiting))
        }
        return rows
    }

    /// Moves a prompt from phase `from` to `to`; false when it was not at `from` (another process moved it).
    package func advanceSlackPrompt(runID: UUID, from: String, to: String) async throws -> Bool {
        try await count("""
            WITH up AS (
                UPDATE slack_prompts SET phase = \(to), updated_at = now() WHERE run_id = \(runID) AND phase = \(from) RETURNING 1
            )
            SELECT count(*)::int8 FROM up
            """) == 1
    }

    /// Deletes the prompt row of `runID` while it is still at phase `approval` (its first post failed: the
    /// next pass takes the run again). Returns whether it went.
    package func releaseSlackPrompt(runID: UUID) async throws -> Bool {
        try await count("""
            WITH gone AS (DELETE FROM slack_prompts WHERE run_id = \(runID) AND phase = 'approval' RETURNING 1)
            SELECT count(*)::int8 FROM gone
            """) == 1
    }
}
