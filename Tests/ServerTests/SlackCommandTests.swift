import Engine
import Foundation
import KajiTesting
import Server
import Testing
@testable import Workflows

/// `/kaji` slash commands over real HTTP against a `kaji serve` process on real PostgreSQL.
@Suite("kaji serve: Slack slash commands over HTTP", .serialized, .needsDatabase, .timeLimit(.minutes(3)))
struct SlackCommandTests {
    /// The repository's examples/ folder: a checkout of manifests (demo.yaml names cluster demo).
    static let manifests = TestEnvironment.repositoryRoot.appendingPathComponent("examples").path
    static let users = ["UOPS": "operator", "UAPP": "approver", "UADM": "admin"]

    @Test("reads for everyone, writes by role: an unknown user may only read; the actor is slack:TEAM/USER")
    func rolesAndReads() async throws {
        try await TestDatabase.with { db in
            try await SlackServe.with(db, environment: SlackServe.environment(users: Self.users)) { serve in
                let client = KajiClient(store: db.store, catalog: .kaji)
                let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "token:someone"))

                let help = try await serve.command("help", user: "UX", trigger: "t-help", responseURL: "http://127.0.0.1:9/none")
                #expect(help.status == 200, "\(help.body)")
                #expect(help.object["response_type"] as? String == "ephemeral")
                #expect(help.text.contains("/kaji apply CLUSTER"))

                let status = try await serve.command("status \(run.id)", user: "UX", trigger: "t-status", responseURL: "http://127.0.0.1:9/none")
                #expect(status.text.contains("pending"), "\(status.body)")
                let runs = try await serve.command("runs", user: "UX", trigger: "t-runs", responseURL: "http://127.0.0.1:9/none")
                #expect(runs.text.contains(run.id.uuidString.lowercased()), "\(runs.body)")
                let unknown = try await serve.command("frobnicate now", user: "UOPS", trigger: "t-unknown", responseURL: "http://127.0.0.1:9/none")
                #expect(unknown.text.contains("unknown command 'frobnicate'"), "\(unknown.body)")

                // An unknown user reads only; an operator cancels but does not approve.
                let readerCancel = try await serve.command("cancel \(run.id)", user: "UX", trigger: "t-c1", responseURL: "http://127.0.0.1:9/none")
                #expect(readerCancel.text.contains("slack:T1/UX has role viewer; /kaji cancel needs operator"), "\(readerCancel.body)")
                let operatorApprove = try await serve.command("approve \(run.id)", user: "UOPS", trigger: "t-a1", responseURL: "http://127.0.0.1:9/none")
                #expect(operatorApprove.text.contains("needs approver"), "\(operatorApprove.body)")
                for text in ["apply demo", "scale demo workers=3", "backup demo", "restore demo b1", "rotate demo"] {
                    let reply = try await serve.command(text, user: "UX", trigger: "t-viewer-\(text)", responseURL: "http://127.0.0.1:9/none")
                    #expect(reply.text.contains("has role viewer"), "\(text): \(reply.body)")
                }
                #expect(try await client.runSummary(id: run.id).state == .pending)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1, "nothing was enqueued by a viewer")

                let cancel = try await serve.command("cancel \(run.id)", user: "UOPS", trigger: "t-c2", responseURL: "http://127.0.0.1:9/none")
                #expect(cancel.text.contains("cancelled run \(run.id.uuidString.lowercased())"), "\(cancel.body)")
                let detail = try await client.run(id: run.id)
                #expect(detail.run.state == .cancelled)
                #expect(detail.run.cancelRequestedBy == "slack:T1/UOPS")
            }
        }
    }

    @Test("a wrong secret, an altered body, an old timestamp or a missing header: 401 on both routes, nothing enqueued or decided, nothing of the body logged")
    func refused() async throws {
        try await TestDatabase.with { db in
            let env = SlackServe.environment(users: ["UMARKER7": "admin"], extra: ["KAJI_SLACK_MANIFESTS": Self.manifests, "KAJI_LOG_LEVEL": "debug"])
            try await SlackServe.with(db, environment: env) { serve in
                let client = KajiClient(store: db.store, catalog: .kaji)
                let waiting = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "token:someone"))
                let command = SlackTest.command("apply demo", user: "UMARKER7", trigger: "t-marker-command", responseURL: "http://127.0.0.1:9/marker-url")
                let press = SlackTest.press("kaji.approve:\(waiting.id.uuidString.lowercased())", run: waiting.id, user: "UMARKER7",
                                            trigger: "t-marker-press", responseURL: "http://127.0.0.1:9/marker-url")
                let now = String(Int(Date().timeIntervalSince1970))
                for (path, body) in [("/slack/commands", command), ("/slack/interactions", press)] {
                    let variants: [(String, SlackReply)] = [
                        ("wrong secret", try await serve.post(path, body: body, secret: "another-secret")),
                        ("altered body", try await serve.post(path, body: body + "&text=rotate+demo",
                                                              signature: SlackSignature.sign(secret: SlackTest.secret, timestamp: now, body: Data(body.utf8)))),
                        ("a signature for another timestamp", try await serve.post(path, body: body,
                                                              signature: SlackSignature.sign(secret: SlackTest.secret, timestamp: String(Int(now)! - 1), body: Data(body.utf8)))),
                        ("timestamp 6 minutes old", try await serve.post(path, body: body, timestamp: Date().addingTimeInterval(-360))),
                        ("timestamp 6 minutes ahead", try await serve.post(path, body: body, timestamp: Date().addingTimeInterval(360))),
                        ("no timestamp header", try await serve.post(path, body: body, sendTimestamp: false)),
                        ("no signature header", try await serve.post(path, body: body, sendSignature: false)),
                        ("no Slack headers", try await serve.post(path, body: body, sendTimestamp: false, sendSignature: false)),
                        ("a v1 signature", try await serve.post(path, body: body, signature: "v1=" + SlackSignature.sign(secret: SlackTest.secret, timestamp: now, body: Data(body.utf8)).dropFirst(3))),
                    ]
                    for (what, reply) in variants {
                        #expect(reply.status == 401, "\(path), \(what): \(reply.status) \(reply.body)")
                        #expect(!reply.body.contains("UMARKER7") && !reply.body.contains("marker"), "\(path), \(what): nothing of the body is echoed")
                    }
                }
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1, "nothing was enqueued")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals") == 0, "nothing was approved")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_requests") == 0, "no request id was taken")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE actor LIKE 'slack:%'") == 0)

                let log = serve.process.stderr
                #expect(log.contains("refused a Slack request"), "the refusals are logged: \(log.suffix(2000))")
                for marker in ["UMARKER7", "t-marker", "marker-url", SlackTest.secret] {
                    #expect(!log.contains(marker), "the log holds '\(marker)': \(log.suffix(3000))")
                }

                // The same request, signed right, is taken: the refusals were the signature's doing.
                let accepted = try await serve.post("/slack/commands", body: command)
                #expect(accepted.status == 200 && accepted.text.contains("enqueued cluster.provision run"), "\(accepted.body)")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 2)
            }
        }
    }

    @Test("a repeated trigger_id enqueues once and gets the first answer; another trigger_id finds the run by the manifest")
    func repeatedTrigger() async throws {
        try await TestDatabase.with { db in
            let env = SlackServe.environment(users: Self.users, extra: ["KAJI_SLACK_MANIFESTS": Self.manifests])
            try await SlackServe.with(db, environment: env) { serve in
                let first = try await serve.command("apply demo", user: "UOPS", trigger: "t-repeat-1", responseURL: "http://127.0.0.1:9/r1")
                let run = try #require(SlackTest.runID(in: first.text), "\(first.body)")
                #expect(first.text.contains("enqueued cluster.provision run \(run.uuidString.lowercased())"), "\(first.body)")
                #expect(first.text.contains("waits for approval"))
                // Slack retries with the same trigger_id: the same answer, nothing more enqueued.
                let again = try await serve.command("apply demo", user: "UOPS", trigger: "t-repeat-1", responseURL: "http://127.0.0.1:9/r1")
                #expect(again.status == 200)
                #expect(again.text == first.text, "a repeat gets the first answer: \(again.body)")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_requests") == 1)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_follows") == 1)
                // A new command for the same manifest finds the same run (the manifest's idempotency key).
                let other = try await serve.command("apply demo", user: "UOPS", trigger: "t-repeat-2", responseURL: "http://127.0.0.1:9/r2")
                #expect(other.text.contains("already enqueued: cluster.provision run \(run.uuidString.lowercased())"), "\(other.body)")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
                let summary = try await KajiClient(store: db.store, catalog: .kaji).runSummary(id: run)
                #expect(summary.actor == "slack:T1/UOPS")
                #expect(summary.concurrencyKey == "cluster:demo")
            }
        }
    }

    @Test("a command that outlasts its answer deadline is answered at once, and its answer follows on the response_url")
    func lateAnswer() async throws {
        try await SlackListener.with { listener in
            try await TestDatabase.with { db in
                // A deadline of zero: every command outlasts it.
                let env = SlackServe.environment(users: Self.users, extra: ["KAJI_SLACK_MANIFESTS": Self.manifests, "KAJI_SLACK_ANSWER_MS": "0"])
                try await SlackServe.with(db, environment: env) { serve in
                    let reply = try await serve.command("apply demo", user: "UOPS", trigger: "t-late", responseURL: listener.url("late"))
                    #expect(reply.status == 200)
                    #expect(reply.text == "working on /kaji apply; the answer follows here", "\(reply.body)")
                    try await eventually("the answer is posted") { !listener.posts("late").isEmpty }
                    let answer = listener.posts("late")[0]
                    #expect(answer.object["response_type"] as? String == "ephemeral")
                    let run = try #require(SlackTest.runID(in: answer.text), "\(answer.json)")
                    #expect(answer.text.contains("enqueued cluster.provision run \(run.uuidString.lowercased())"))
                    // Its repeat gets the answer kept for it.
                    let again = try await serve.command("apply demo", user: "UOPS", trigger: "t-late", responseURL: listener.url("late"))
                    #expect(again.text == answer.text, "\(again.body)")
                    #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
                }
            }
        }
    }

    @Test("scale, backup, restore and rotate enqueue their operations through the cluster service; bad names and unknown clusters enqueue nothing")
    func operations() async throws {
        try await TestDatabase.with { db in
            let env = SlackServe.environment(users: Self.users, extra: ["KAJI_SLACK_MANIFESTS": Self.manifests])
            try await SlackServe.with(db, environment: env) { serve in
                let spec = try ClusterManifest.load(file: Self.manifests + "/demo.yaml")
                try await ClusterInventory(store: db.store).upsert(ClusterRecord(
                    name: "demo", zone: spec.zone, spec: spec, state: "ready", switchID: nil, apiEndpoint: nil, nodes: [], ownerTeam: nil,
                    lastRunID: nil, createdAt: Date(), updatedAt: Date()))
                let client = KajiClient(store: db.store, catalog: .kaji)
                let url = "http://127.0.0.1:9/ops"

                // Refused before anything is enqueued.
                for (text, expected) in [("scale demo workers=1", "shrinking from 2 to 1 is refused"), ("scale nowhere workers=3", "no cluster named 'nowhere'"),
                                         ("scale demo nodes=3", "usage: /kaji scale"), ("restore demo Not_A_Name", "not a valid name"),
                                         ("backup nowhere", "no cluster named 'nowhere'"), ("apply nowhere", "no manifest in the manifest folder names cluster 'nowhere'")] {
                    let reply = try await serve.command(text, user: "UOPS", trigger: "t-bad-\(text)", responseURL: url)
                    #expect(reply.text.contains(expected), "\(text): \(reply.body)")
                }
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 0)

                var runs: [String: UUID] = [:]
                for (text, kind) in [("scale demo workers=4", ClusterKinds.scaleOut), ("backup demo nightly-1", ClusterKinds.backup),
                                     ("restore demo nightly-1", ClusterKinds.restore), ("rotate demo", ClusterKinds.rotatePassword)] {
                    let reply = try await serve.command(text, user: "UOPS", trigger: "t-op-\(kind)", responseURL: url)
                    #expect(reply.text.contains("enqueued \(kind) run"), "\(text): \(reply.body)")
                    let run = try #require(SlackTest.runID(in: reply.text), "\(text): \(reply.body)")
                    let summary = try await client.runSummary(id: run)
                    #expect(summary.kind == kind)
                    #expect(summary.actor == "slack:T1/UOPS")
                    #expect(summary.concurrencyKey == "cluster:demo")
                    runs[kind] = run
                }
                let scale = try await client.run(id: try #require(runs[ClusterKinds.scaleOut]))
                #expect(try KajiJSON.decode(ScaleOutInput.self, from: scale.input).spec.workers.replicas == 4)
                let restore = try await client.run(id: try #require(runs[ClusterKinds.restore]))
                #expect(try KajiJSON.decode(RestoreInput.self, from: restore.input) == RestoreInput(cluster: "demo", backup: "nightly-1"))
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM slack_follows") == 4, "each run is followed for its response_url")
            }
        }
    }
}
