import Engine
import Foundation
import KajiTesting
import Server
import Testing

/// Runs started from Slack, followed by `kaji serve`: progress, the approval buttons and the outcome posted
/// to a local listener standing in for Slack's `response_url` and incoming webhook. The runs are the test
/// kit's `test.approval` (it waits for an approval by someone other than its requester), run by an
/// in-process worker pool.
@Suite("kaji serve: Slack progress, approval buttons and outcomes", .serialized, .needsDatabase, .timeLimit(.minutes(3)))
struct SlackFollowerTests {
    static let users = ["UREQ": "approver", "UAPP": "approver", "UOPS": "operator"]
    static let requester = "slack:T1/UREQ"

    /// A `test.approval` run requested by UREQ, followed for `url` as `/kaji` would.
    static func followedRun(_ client: KajiClient, url: String) async throws -> UUID {
        let run = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, input: "{}", actor: requester)).id
        #expect(try await client.followFromSlack(run: run, responseURL: url, requester: requester))
        return run
    }

    static func prompt(_ listener: SlackListener, _ hook: String, _ run: UUID) -> SlackListener.Post? {
        listener.posts(hook).first { $0.actionIDs.contains("kaji.approve:\(run.uuidString.lowercased())") }
    }

    @Test("a waiting run posts Approve / Reject buttons; a viewer and the requester are refused, another approver's press approves; the outcome follows")
    func approvalButtons() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                try await SlackServe.with(db, environment: SlackServe.environment(users: Self.users)) { serve in
                    let client = db.client(testRegistry())
                    let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                    defer { pool.pool.shutdown() }
                    let run = try await Self.followedRun(client, url: listener.url("cmd"))
                    let id = run.uuidString.lowercased()
                    try await eventually("the approval buttons are posted") { Self.prompt(listener, "cmd", run) != nil }
                    let prompt = try #require(Self.prompt(listener, "cmd", run))
                    #expect(prompt.actionIDs == ["kaji.approve:\(id)", "kaji.reject:\(id)"])
                    #expect(prompt.object["response_type"] as? String == "in_channel")
                    #expect(prompt.text.contains("requested by <@UREQ>"), "\(prompt.json)")

                    // An operator may not approve; the requester may not approve their own run.
                    let byOperator = try await serve.press(approve: true, run: run, user: "UOPS", trigger: "t-p0", responseURL: listener.url("p0"))
                    #expect(byOperator.status == 200)
                    try await eventually("the operator is told") { !listener.posts("p0").isEmpty }
                    #expect(listener.posts("p0")[0].text.contains("needs approver"), "\(listener.posts("p0")[0].json)")
                    let byRequester = try await serve.press(approve: true, run: run, user: "UREQ", trigger: "t-p1", responseURL: listener.url("p1"))
                    #expect(byRequester.status == 200)
                    try await eventually("the requester is told") { !listener.posts("p1").isEmpty }
                    let refusal = listener.posts("p1")[0]
                    #expect(refusal.text.contains("slack:T1/UREQ requested run \(run) and cannot approve it"), "\(refusal.json)")
                    #expect(refusal.object["response_type"] as? String == "ephemeral")
                    #expect(refusal.object["replace_original"] as? Bool == false)
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(run)") == 0)
                    #expect(try await client.runSummary(id: run).state == .waiting)

                    let byApprover = try await serve.press(approve: true, run: run, user: "UAPP", trigger: "t-p2", responseURL: listener.url("p2"))
                    #expect(byApprover.status == 200)
                    // Pressed twice (or retried by Slack): acknowledged, nothing more sent.
                    let again = try await serve.press(approve: true, run: run, user: "UAPP", trigger: "t-p2", responseURL: listener.url("p2"))
                    #expect(again.status == 200)
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(run)") == 1)
                    try await eventually("the message is replaced") { !listener.posts("p2").isEmpty }
                    let decided = listener.posts("p2")[0]
                    #expect(decided.object["replace_original"] as? Bool == true)
                    #expect(decided.text.contains("approved by <@UAPP>"), "\(decided.json)")
                    #expect(decided.actionIDs.isEmpty, "no buttons left")

                    try await eventually("the outcome is posted") { listener.posts("cmd").contains { $0.text.contains("succeeded") } }
                    let detail = try await client.run(id: run)
                    #expect(detail.run.state == .succeeded)
                    #expect(try KajiJSON.decode(Approval.self, from: try #require(detail.output)).approver == "slack:T1/UAPP")
                    let posts = listener.posts("cmd")
                    #expect(posts.count <= KajiClient.slackPostsPerResponseURL)
                    #expect(posts.filter { !$0.actionIDs.isEmpty }.count == 1, "one prompt")
                    #expect(posts.last?.text == "\(ApprovalWorkflow.kind) run \(id) succeeded.")
                    #expect(listener.posts("p2").count == 1, "the repeated press posted nothing")
                    try await pool.stop()
                }
            }
        }
    }

    @Test("a rejection by button fails the run, and the outcome names the reason")
    func rejectButton() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                try await SlackServe.with(db, environment: SlackServe.environment(users: Self.users)) { serve in
                    let client = db.client(testRegistry())
                    let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                    defer { pool.pool.shutdown() }
                    let run = try await Self.followedRun(client, url: listener.url("cmd"))
                    try await eventually("the approval buttons are posted") { Self.prompt(listener, "cmd", run) != nil }
                    let reply = try await serve.press(approve: false, run: run, user: "UAPP", trigger: "t-r1", responseURL: listener.url("r1"))
                    #expect(reply.status == 200)
                    try await eventually("the message is replaced") { !listener.posts("r1").isEmpty }
                    #expect(listener.posts("r1")[0].text.contains("rejected by <@UAPP>"))
                    try await eventually("the outcome is posted") { listener.posts("cmd").contains { $0.text.contains("failed") } }
                    let outcome = try #require(listener.posts("cmd").last)
                    #expect(outcome.text.contains("rejected in Slack by slack:T1/UAPP"), "\(outcome.json)")
                    #expect(try await client.runSummary(id: run).state == .failed)
                    try await pool.stop()
                }
            }
        }
    }

    @Test("past five posts, or thirty minutes, the prompt and the outcome go to the incoming webhook")
    func webhookFallback() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                let env = SlackServe.environment(users: Self.users, extra: ["KAJI_SLACK_WEBHOOK_URL": listener.url("webhook")])
                try await SlackServe.with(db, environment: env) { _ in
                    let client = db.client(testRegistry())
                    // Five posts went to this response_url already: Slack takes no sixth.
                    let run = try await Self.followedRun(client, url: listener.url("used"))
                    for _ in 0..<KajiClient.slackPostsPerResponseURL {
                        #expect(try await client.reserveSlackPost(responseURL: listener.url("used")))
                    }
                    #expect(try await client.reserveSlackPost(responseURL: listener.url("used")) == false)
                    let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                    defer { pool.pool.shutdown() }
                    try await eventually("the prompt goes to the webhook") { Self.prompt(listener, "webhook", run) != nil }
                    let webhookPrompt = try #require(Self.prompt(listener, "webhook", run))
                    #expect(webhookPrompt.object["response_type"] == nil, "a webhook message has no response_type")
                    try await client.approve(runID: run, sender: "slack:T1/UAPP")
                    try await eventually("the outcome goes to the webhook") { listener.posts("webhook").contains { $0.text.contains("\(run.uuidString.lowercased()) succeeded") } }
                    #expect(listener.posts("used").isEmpty)

                    try await pool.stop()

                    // A response_url older than its window: the same (aged while no worker runs, so before its prompt).
                    let late = try await Self.followedRun(client, url: listener.url("old"))
                    _ = try await db.scalarInt("WITH up AS (UPDATE slack_posts SET window_start = now() - interval '31 minutes' RETURNING 1) SELECT count(*)::int8 FROM up")
                    let second = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                    defer { second.pool.shutdown() }
                    try await eventually("the prompt goes to the webhook") { Self.prompt(listener, "webhook", late) != nil }
                    #expect(listener.posts("old").isEmpty)
                    try await second.stop()
                }
            }
        }
    }

    @Test("two serve processes post each message once, and a serve started after both stopped posts what happened meanwhile")
    func severalServesAndRestart() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                let env = SlackServe.environment(users: Self.users)
                let client = db.client(testRegistry())
                let first = try await SlackServe.start(db, environment: env)
                let second = try await SlackServe.start(db, environment: env)
                let pool = db.startPool(testRegistry(), pollInterval: .milliseconds(100))
                let runs = [try await Self.followedRun(client, url: listener.url("a")), try await Self.followedRun(client, url: listener.url("b"))]
                do {
                    for (run, hook) in zip(runs, ["a", "b"]) {
                        try await eventually("the approval buttons of \(hook) are posted") { Self.prompt(listener, hook, run) != nil }
                    }
                    _ = try await first.process.kill()
                    await second.stop()
                    // No serve runs now: the approvals and the outcomes happen unseen.
                    for run in runs { try await client.approve(runID: run, sender: "slack:T1/UAPP") }
                    for run in runs { try await db.waitForFinish(run) }
                    try await SlackServe.with(db, environment: env) { _ in
                        for hook in ["a", "b"] {
                            try await eventually("the outcome of \(hook) is posted") { listener.posts(hook).contains { $0.text.contains("succeeded") } }
                        }
                    }
                    for hook in ["a", "b"] {
                        let posts = listener.posts(hook)
                        #expect(posts.filter { !$0.actionIDs.isEmpty }.count == 1, "\(hook): one prompt, \(posts.map(\.text))")
                        #expect(posts.filter { $0.text.contains("succeeded") }.count == 1, "\(hook): one outcome, \(posts.map(\.text))")
                        #expect(Set(posts.map(\.text)).count == posts.count, "\(hook): nothing posted twice, \(posts.map(\.text))")
                    }
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_follows WHERE phase = 'finished'") == 2)
                    try await pool.stop()
                } catch {
                    _ = try? await first.process.kill()
                    await second.stop()
                    pool.pool.shutdown()
                    throw error
                }
            }
        }
    }
}
