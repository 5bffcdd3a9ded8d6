import Engine
import Foundation
import KajiTesting
import Logging
import Server
import Testing

/// Runs not started from Slack (enqueued as the HTTP API and the CLI enqueue them: `token:NAME`,
/// `cli:USER@HOST`) that wait for their approval: with an incoming webhook configured, `kaji serve` posts
/// their Approve / Reject prompt to it once, then their outcome; a local listener stands in for the
/// webhook and for the `response_url`s of button presses. The runs are the test kit's `test.approval`, run
/// by an in-process worker pool.
@Suite("kaji serve: Slack approval prompts on the webhook for runs started elsewhere", .serialized, .needsDatabase, .timeLimit(.minutes(3)))
struct SlackPromptTests {
    static let users = ["UAPP": "approver", "UVIEW": "viewer", "UREQ": "approver"]

    /// The prompts with buttons for `run` posted to `hook`.
    static func prompts(_ listener: SlackListener, _ hook: String, _ run: UUID) -> [SlackListener.Post] {
        listener.posts(hook).filter { $0.actionIDs.contains("kaji.approve:\(run.uuidString.lowercased())") }
    }

    /// Every post to `hook` about `run` (its id in the text).
    static func posts(_ listener: SlackListener, _ hook: String, _ run: UUID) -> [SlackListener.Post] {
        listener.posts(hook).filter { $0.text.contains(run.uuidString.lowercased()) }
    }

    static func enqueue(_ client: KajiClient, actor: String) async throws -> UUID {
        try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, input: "{}", actor: actor)).id
    }

    /// An in-process follower, as `kaji serve` runs it, until `stop`.
    struct RunningFollower {
        let task: Task<Void, Never>

        init(_ client: KajiClient, webhook: String?, logger: Logger) {
            let configuration = SlackConfiguration(signingSecret: SlackTest.secret, webhookURL: webhook, pollInterval: .milliseconds(50))
            let follower = SlackFollower(client: client, configuration: configuration, logger: logger)
            task = Task { try? await follower.run() }
        }

        func stop() async {
            task.cancel()
            await task.value
        }
    }

    @Test("an API run waiting for approval gets one prompt on the webhook; a viewer's press is refused, an approver's approves; the outcome follows there")
    func promptAndButtons() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                let env = SlackServe.environment(users: Self.users, extra: ["KAJI_SLACK_WEBHOOK_URL": listener.url("webhook")])
                try await SlackServe.with(db, environment: env) { serve in
                    let client = db.client(testRegistry())
                    let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                    defer { pool.pool.shutdown() }
                    let run = try await Self.enqueue(client, actor: "token:ci-bot")
                    // A run started from Slack keeps to its command's response_url: no second prompt on the webhook.
                    let followed = try await Self.enqueue(client, actor: "slack:T1/UREQ")
                    #expect(try await client.followFromSlack(run: followed, responseURL: listener.url("cmd"), requester: "slack:T1/UREQ"))
                    let id = run.uuidString.lowercased()

                    try await eventually("the prompt is posted to the webhook") { !Self.prompts(listener, "webhook", run).isEmpty }
                    let prompt = try #require(Self.prompts(listener, "webhook", run).first)
                    #expect(prompt.actionIDs == ["kaji.approve:\(id)", "kaji.reject:\(id)"])
                    #expect(prompt.text.contains("requested by token:ci-bot"), "\(prompt.json)")
                    #expect(prompt.object["response_type"] == nil, "a webhook message has no response_type")
                    try await eventually("the followed run's prompt goes to its response_url") { !Self.prompts(listener, "cmd", followed).isEmpty }
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_prompts") == 1)

                    // A viewer may not decide: told so alone, nothing sent to the run.
                    let byViewer = try await serve.press(approve: true, run: run, user: "UVIEW", trigger: "t-v1", responseURL: listener.url("v1"))
                    #expect(byViewer.status == 200)
                    try await eventually("the viewer is told") { !listener.posts("v1").isEmpty }
                    let refusal = listener.posts("v1")[0]
                    #expect(refusal.text.contains("needs approver"), "\(refusal.json)")
                    #expect(refusal.object["response_type"] as? String == "ephemeral")
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(run)") == 0)
                    #expect(try await client.runSummary(id: run).state == .waiting)

                    // An approver's press approves, as that Slack user; the run goes on.
                    let byApprover = try await serve.press(approve: true, run: run, user: "UAPP", trigger: "t-a1", responseURL: listener.url("a1"))
                    #expect(byApprover.status == 200)
                    try await eventually("the prompt is replaced") { !listener.posts("a1").isEmpty }
                    let decided = listener.posts("a1")[0]
                    #expect(decided.text.contains("approved by <@UAPP>"), "\(decided.json)")
                    #expect(decided.object["replace_original"] as? Bool == true)
                    #expect(decided.actionIDs.isEmpty, "no buttons left")
                    let finished = try await db.waitForFinish(run)
                    #expect(finished.state == .succeeded)
                    #expect(try KajiJSON.decode(Approval.self, from: try #require(try await client.run(id: run).output)).approver == "slack:T1/UAPP")

                    try await eventually("the outcome is posted to the webhook") {
                        Self.posts(listener, "webhook", run).contains { $0.text == "\(ApprovalWorkflow.kind) run \(id) succeeded." }
                    }
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_prompts WHERE run_id = \(run) AND phase = 'finished'") == 1)
                    let texts = Self.posts(listener, "webhook", run).map(\.text)
                    #expect(Self.prompts(listener, "webhook", run).count == 1, "one prompt: \(texts)")
                    #expect(Set(texts).count == texts.count, "nothing posted twice: \(texts)")
                    #expect(texts.last == "\(ApprovalWorkflow.kind) run \(id) succeeded.")
                    #expect(Self.posts(listener, "webhook", followed).isEmpty, "the followed run posts nothing to the webhook")
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_prompts WHERE run_id = \(followed)") == 0)
                    try await pool.stop()
                }
            }
        }
    }

    @Test("two followers on one database post each prompt and each outcome once, and a follower started later goes on where they stopped")
    func twoFollowersOnce() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                let client = db.client(testRegistry())
                let logs = LogCapture()
                let webhook = listener.url("webhook")
                let first = RunningFollower(db.client(testRegistry()), webhook: webhook, logger: logs.logger("first", level: .info))
                let second = RunningFollower(db.client(testRegistry()), webhook: webhook, logger: logs.logger("second", level: .info))
                let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                var stopped = false
                do {
                    var runs: [UUID] = []
                    for actor in ["token:ci-bot", "token:ci-bot", "cli:alice@ops-1", "token:nightly"] {
                        runs.append(try await Self.enqueue(client, actor: actor))
                    }
                    for run in runs {
                        try await eventually("the prompt of \(run) is posted") { !Self.prompts(listener, "webhook", run).isEmpty }
                    }
                    // Both followers at work: one approved, one rejected, one cancelled while they watch.
                    try await client.approve(runID: runs[0], sender: "token:approver")
                    _ = try await client.reject(runID: runs[1], reason: "not today", sender: "slack:T1/UAPP")
                    _ = try await client.cancel(runID: runs[2], reason: "changed plans", actor: "token:ops")
                    for run in runs.prefix(3) {
                        _ = try await db.waitForFinish(run)
                        try await eventually("the outcome of \(run) is posted") {
                            Self.posts(listener, "webhook", run).contains { $0.text.contains("succeeded") || $0.text.contains("failed") || $0.text.contains("cancelled") }
                        }
                    }
                    await first.stop()
                    await second.stop()
                    stopped = true

                    // No follower runs now: the last run is approved unseen; a follower started afterwards posts its
                    // outcome, and no prompt again.
                    _ = try await client.approve(runID: runs[3], sender: "slack:T1/UAPP")
                    _ = try await db.waitForFinish(runs[3])
                    let third = RunningFollower(db.client(testRegistry()), webhook: webhook, logger: logs.logger("third", level: .info))
                    try await eventually("the outcome of the last run is posted") {
                        Self.posts(listener, "webhook", runs[3]).contains { $0.text.hasSuffix("succeeded.") }
                    }
                    await third.stop()

                    for run in runs {
                        let texts = Self.posts(listener, "webhook", run).map(\.text)
                        #expect(Self.prompts(listener, "webhook", run).count == 1, "one prompt: \(texts)")
                        #expect(Set(texts).count == texts.count, "nothing posted twice: \(texts)")
                    }
                    let id = { (run: UUID) in run.uuidString.lowercased() }
                    #expect(Self.prompts(listener, "webhook", runs[2])[0].text.contains("requested by cli:alice@ops-1"))
                    #expect(Self.posts(listener, "webhook", runs[1]).last?.text.contains("failed") == true)
                    #expect(Self.posts(listener, "webhook", runs[2]).last?.text == "\(ApprovalWorkflow.kind) run \(id(runs[2])) was cancelled by token:ops.")
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_prompts WHERE phase = 'finished'") == 4)
                    #expect(!logs.text.contains("no incoming webhook"), "a follower with a webhook does not say it has none")
                    #expect(!logs.text.contains(webhook), "the webhook URL is never logged")
                    try await pool.stop()
                } catch {
                    if !stopped {
                        await first.stop()
                        await second.stop()
                    }
                    pool.pool.shutdown()
                    throw error
                }
            }
        }
    }

    @Test("without a webhook: no prompt, no row, and one notice at start-up")
    func noWebhook() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                let client = db.client(testRegistry())
                let logs = LogCapture()
                let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                defer { pool.pool.shutdown() }
                let unfollowed = try await Self.enqueue(client, actor: "token:ci-bot")
                try await eventually("the API run waits for its approval") { try await client.runSummary(id: unfollowed).state == .waiting }
                let follower = RunningFollower(db.client(testRegistry()), webhook: nil, logger: logs.logger("kaji.serve", level: .info))
                do {
                    // A followed run shows that the follower reads runs, and has passed the waiting API run since.
                    let followed = try await Self.enqueue(client, actor: "slack:T1/UREQ")
                    #expect(try await client.followFromSlack(run: followed, responseURL: listener.url("cmd"), requester: "slack:T1/UREQ"))
                    try await eventually("the followed run's prompt is posted") { !Self.prompts(listener, "cmd", followed).isEmpty }
                    _ = try await client.approve(runID: followed, sender: "slack:T1/UAPP")
                    try await eventually("the followed run's outcome is posted") { listener.posts("cmd").contains { $0.text.hasSuffix("succeeded.") } }
                    await follower.stop()
                } catch {
                    await follower.stop()
                    throw error
                }
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_prompts") == 0)
                #expect(Self.posts(listener, "cmd", unfollowed).isEmpty)
                #expect(try await client.runSummary(id: unfollowed).state == .waiting)
                let notices = logs.text.split(separator: "\n").filter { $0.contains("no incoming webhook is configured (KAJI_SLACK_WEBHOOK_URL): runs not started from Slack") }
                #expect(notices.count == 1, "\(logs.text)")
                try await pool.stop()
            }
        }
    }
}
