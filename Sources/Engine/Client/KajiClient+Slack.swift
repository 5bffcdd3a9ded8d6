import Crypto
import Foundation

/// How far the messages about a run started from Slack have got (`slack_follows.phase`), or about a run
/// prompted for its approval on the incoming webhook (`slack_prompts.phase`: `approval`, `approved`,
/// `finished`).
public enum SlackPhase: String, StoredEnum, Codable {
    /// Enqueued; the command's answer said so.
    case enqueued
    /// Seen running (or waiting, retrying): "started" was posted.
    case started
    /// Seen waiting for its approval: the message with Approve / Reject buttons was posted.
    case approval
    /// Seen going on after its approval: "approved, going on" was posted.
    case approved
    /// Finished: the outcome was posted; the run is no longer followed.
    case finished
}

/// What a Slack request id (a command's `trigger_id`, an interaction's id) was used for before.
public enum SlackRequestClaim: Sendable, Equatable {
    /// Not seen before: the caller acts on it and then records its answer.
    case new
    /// Seen before: the first request's answer (nil while that one is still at work) and run.
    case seen(answer: String?, run: UUID?)
}

/// A run started from Slack that `kaji serve` reports on, with its run's state now.
public struct SlackFollow: Sendable, Equatable {
    public var run: UUID
    public var kind: String
    public var state: RunState
    public var lastError: String?
    public var cancelRequestedBy: String?
    /// Who started it: `slack:TEAM/USER`.
    public var requester: String
    /// The command's `response_url` (not to be logged: whoever holds it may post to the channel).
    public var responseURL: String
    public var phase: SlackPhase
    /// Whether the run waits for its `approval` signal now.
    public var awaitingApproval: Bool
}

/// A run not started from Slack whose approval prompt `kaji serve` posted to the incoming webhook, with its
/// run's state now.
public struct SlackPrompt: Sendable, Equatable {
    public var run: UUID
    public var kind: String
    public var state: RunState
    public var lastError: String?
    public var cancelRequestedBy: String?
    /// Who asked for the run (`cli:USER`, `token:NAME`, …): whom the approval wait excludes, else the run's actor.
    public var requester: String
    public var phase: SlackPhase
    /// Whether the run waits for its `approval` signal now.
    public var awaitingApproval: Bool
}

extension KajiClient {
    /// At most this many posts go to one `response_url` (Slack's limit).
    public static let slackPostsPerResponseURL = 5
    /// Within this time of the command (Slack says 30 minutes; a minute is kept for clock skew).
    public static let slackResponseWindow: Duration = .seconds(29 * 60)

    /// Takes a Slack request's id before acting on it. A repeated id (Slack retried, or a button was
    /// pressed twice) is `.seen` with what the first request answered, so the caller answers the same and
    /// does nothing else. `key` is 1-300 characters (field `trigger_id`).
    public func claimSlackRequest(key: String, actor: String) async throws -> SlackRequestClaim {
        try Self.checkSlackKey(key)
        guard let row = try await store.claimSlackRequest(key: key, actor: actor) else { return .new }
        return .seen(answer: row.answer, run: row.runID)
    }

    /// Keeps the answer to the request `key` for its repeats.
    public func recordSlackAnswer(key: String, answer: String, run: UUID? = nil) async throws {
        try Self.checkSlackKey(key)
        try await store.recordSlackAnswer(key: key, answer: answer, runID: run)
    }

    /// Reports `run`'s progress and outcome to `responseURL` from now on (see `slackFollows`). Returns
    /// false when the run is followed already (the first follow keeps it). Throws `invalidArgument` (field
    /// `response_url`) for a URL that is not http(s) or longer than 2000 characters, and `runNotFound`.
    @discardableResult
    public func followFromSlack(run: UUID, responseURL: String, requester: String) async throws -> Bool {
        guard responseURL.count <= 2000, let url = URL(string: responseURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            throw KajiError(.invalidArgument, "response_url must be an http(s) URL of at most 2000 characters", field: "response_url")
        }
        _ = try await runSummary(id: run)
        return try await store.insertSlackFollow(runID: run, responseURL: responseURL, urlHash: Self.slackURLHash(responseURL), requester: requester)
    }

    /// The runs followed for Slack that have not had their outcome posted, oldest first (at most `limit`,
    /// default 200).
    public func slackFollows(limit: Int = 200) async throws -> [SlackFollow] {
        try Self.validate(limit, in: 1...10_000, field: "limit")
        return try await store.openSlackFollows(limit: limit).map { row in
            SlackFollow(run: row.runID, kind: row.kind, state: try RunState.stored(row.state, column: "runs.state"), lastError: row.lastError,
                        cancelRequestedBy: row.cancelRequestedBy, requester: row.requester, responseURL: row.responseURL,
                        phase: try SlackPhase.stored(row.phase, column: "slack_follows.phase"), awaitingApproval: row.awaitingApproval)
        }
    }

    /// Moves a follow from one phase to the next before its message is posted; false when another serve
    /// process moved it first (that one posts).
    public func advanceSlackFollow(run: UUID, from: SlackPhase, to: SlackPhase) async throws -> Bool {
        try await store.advanceSlackFollow(runID: run, from: from.rawValue, to: to.rawValue)
    }

    /// Counts a post to `responseURL` if Slack still takes one there: fewer than
    /// `slackPostsPerResponseURL - keep` posts so far and within `slackResponseWindow` of its first use.
    /// `keep` (default 0) holds posts back for later messages (the outcome). False: post elsewhere.
    public func reserveSlackPost(responseURL: String, keep: Int = 0) async throws -> Bool {
        try await store.reserveSlackPost(urlHash: Self.slackURLHash(responseURL), keep: max(0, keep),
                                         max: Self.slackPostsPerResponseURL, window: Self.slackResponseWindow)
    }

    /// Forgets Slack request ids, post counts, finished follows and finished prompts older than `age`
    /// (default one day);
    /// returns how many rows went.
    @discardableResult
    public func pruneSlack(olderThan age: Duration = .seconds(86_400)) async throws -> Int {
        try await store.pruneSlack(olderThan: age)
    }

    /// Takes up to `limit` (default 50) runs that wait for their approval and have not been prompted in
    /// Slack, neither on the incoming webhook nor through a `/kaji` command's follow, for the caller to post
    /// their prompts: each comes back at phase `approval`, taken by this call alone (several serve processes
    /// on one database each get different runs). A run whose requester is a Slack user is left to its
    /// follow for `slackGrace` (default one minute) after its enqueue. Call it only when the prompts can be
    /// posted: a taken run is not offered again.
    public func claimSlackPrompts(limit: Int = 50, slackGrace: Duration = .seconds(60)) async throws -> [SlackPrompt] {
        try Self.validate(limit, in: 1...10_000, field: "limit")
        return try await store.claimSlackPrompts(limit: limit, slackGrace: slackGrace).map { row in
            SlackPrompt(run: row.runID, kind: row.kind, state: .waiting, lastError: nil, cancelRequestedBy: nil, requester: row.requester,
                        phase: .approval, awaitingApproval: true)
        }
    }

    /// The prompted runs whose outcome has not been posted, oldest first (at most `limit`, default 200).
    public func slackPrompts(limit: Int = 200) async throws -> [SlackPrompt] {
        try Self.validate(limit, in: 1...10_000, field: "limit")
        return try await store.openSlackPrompts(limit: limit).map { row in
            SlackPrompt(run: row.runID, kind: row.kind, state: try RunState.stored(row.state, column: "runs.state"), lastError: row.lastError,
                        cancelRequestedBy: row.cancelRequestedBy, requester: row.requester,
                        phase: try SlackPhase.stored(row.phase, column: "slack_prompts.phase"), awaitingApproval: row.awaitingApproval)
        }
    }

    /// Moves a prompt from one phase to the next before its message is posted (or back after the post
    /// failed); false when another serve process moved it first.
    public func advanceSlackPrompt(run: UUID, from: SlackPhase, to: SlackPhase) async throws -> Bool {
        try await store.advanceSlackPrompt(runID: run, from: from.rawValue, to: to.rawValue)
    }

    /// Gives back a run taken by `claimSlackPrompts` whose prompt could not be posted: a later call takes
    /// it again. False when its prompt has moved on meanwhile.
    @discardableResult
    public func releaseSlackPrompt(run: UUID) async throws -> Bool {
        try await store.releaseSlackPrompt(runID: run)
    }

    static func checkSlackKey(_ key: String) throws {
        guard (1...300).contains(key.count), !key.contains("\0") else {
            throw KajiError(.invalidArgument, "a Slack request id must be 1-300 characters", field: "trigger_id")
        }
    }

    static func slackURLHash(_ url: String) -> Data { Data(SHA256.hash(data: Data(url.utf8))) }
}
