import Engine
import Foundation
import KajiTesting
import SakuraSimulator
import Server
import Testing
import Workflows

/// The whole path from chat to a cluster, all real: `/kaji apply demo` signed as Slack signs it, sent to a
/// `kaji serve` process; a `kaji worker` process provisioning on the SAKURA Cloud simulator and the loopback
/// sshd; the approval buttons pressed by the requester (refused) and by a second Slack user; the progress and
/// the outcome posted to a local listener standing in for Slack's `response_url`.
@Suite("Slack: a cluster from /kaji apply to the outcome message", .serialized, .timeLimit(.minutes(5)), .needsDatabaseAndSSHD)
struct SlackProvisionTests {
    @Test("/kaji apply demo → approval buttons → the requester is refused → a second user approves → the cluster is provisioned and the outcome posted")
    func provisionFromSlack() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let world = "slack-\(UUID().uuidString.prefix(8).lowercased())"
        let simulator = try await SakuraSimulator.start(SakuraSimulatorConfiguration(
            profile: .unit, seed: UInt64.random(in: 1...1_000_000), nodes: SimulatedNodes.fromEnvironment(TestEnvironment.variables, world: world)))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-slack-\(world)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            try await SlackListener.with { listener in
                try await TestDatabase.with(maxConnections: 20) { db in
                    let workerEnvironment = [
                        "SAKURACLOUD_ACCESS_TOKEN": "kaji-sim-token", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "kaji-sim-secret", "SAKURACLOUD_ZONE": "is1a",
                        "KAJI_SAKURA_BASE_URL": simulator.baseURL, "KAJI_SAKURA_RPS": "0", "KAJI_SSH_KEY": sshd.clientKey,
                        "KAJI_SSH_KNOWN_HOSTS": scratch + "/known_hosts", "KAJI_NODE_SSH_USER": "root", "KAJI_CLUSTER_POLL_MS": "200",
                        "KAJI_KUBE_MANIFEST_DIR": scratch + "/manifests", "KAJI_CNI_MANIFEST": "kube-flannel.yml",
                        "KAJI_OWNER_KEYS_FILE": scratch + "/owner_authorized_keys",
                    ]
                    let worker = try db.spawnWorker(concurrency: 4, leaseSeconds: 10, environment: workerEnvironment, id: "slack-worker")
                    defer { worker.signal(SIGKILL) }
                    // The manifests come from a folder, as from a git checkout: the repository's examples/.
                    let env = SlackServe.environment(users: ["UREQ": "approver", "UAPP": "approver"], extra: [
                        "KAJI_SLACK_MANIFESTS": TestEnvironment.repositoryRoot.appendingPathComponent("examples").path,
                        "KAJI_SLACK_WEBHOOK_URL": listener.url("webhook"),
                    ])
                    try await SlackServe.with(db, environment: env) { serve in
                        let answer = try await serve.command("apply demo", user: "UREQ", trigger: "t-apply-demo", responseURL: listener.url("cmd"))
                        #expect(answer.status == 200)
                        #expect(answer.object["response_type"] as? String == "ephemeral")
                        let run = try #require(SlackTest.runID(in: answer.text), "the answer names the run: \(answer.body)")
                        let id = run.uuidString.lowercased()
                        #expect(answer.text.contains("enqueued cluster.provision run \(id) from demo.yaml"), "\(answer.body)")

                        try await eventually("the approval buttons are posted", timeout: .seconds(60)) {
                            listener.posts("cmd").contains { $0.actionIDs.contains("kaji.approve:\(id)") }
                        }
                        let byRequester = try await serve.press(approve: true, run: run, user: "UREQ", trigger: "t-press-1", responseURL: listener.url("press-1"))
                        #expect(byRequester.status == 200)
                        try await eventually("the requester is told no") { !listener.posts("press-1").isEmpty }
                        #expect(listener.posts("press-1")[0].text.contains("cannot approve"), "\(listener.posts("press-1")[0].json)")
                        let client = KajiClient(store: db.store, catalog: .kaji)
                        #expect(try await client.runSummary(id: run).state == .waiting)
                        #expect(simulator.state()["Servers"]?.arrayValue?.isEmpty ?? true, "nothing was built before the approval")

                        let byApprover = try await serve.press(approve: true, run: run, user: "UAPP", trigger: "t-press-2", responseURL: listener.url("press-2"))
                        #expect(byApprover.status == 200)
                        try await eventually("the approval message is replaced") { !listener.posts("press-2").isEmpty }
                        #expect(listener.posts("press-2")[0].text.contains("approved by <@UAPP>"))

                        try await eventually("the outcome is posted", timeout: .seconds(150)) {
                            (listener.posts("cmd") + listener.posts("webhook")).contains {
                                $0.text.hasPrefix("cluster.provision run \(id) succeeded") || $0.text.hasPrefix("cluster.provision run \(id) failed")
                            }
                        }
                        let summary = try await client.runSummary(id: run)
                        #expect(summary.state == .succeeded, "\(summary.lastError ?? "") — worker: \(worker.stderr.suffix(1500))")
                        #expect(summary.actor == "slack:T1/UREQ")
                        // The outcome goes to the response_url (or, had a post there failed, to the webhook).
                        let posts = listener.posts("cmd")
                        let outcomes = (posts + listener.posts("webhook")).filter { $0.text == "cluster.provision run \(id) succeeded." }
                        #expect(!outcomes.isEmpty, "\(posts.map(\.text))")
                        #expect(posts.count <= KajiClient.slackPostsPerResponseURL)
                        let detail = try await client.run(id: run)
                        let approval = detail.events.first { $0.eventType == .signalSent }
                        #expect(approval?.actor == "slack:T1/UAPP")
                        let cluster = try await ClusterService(client: client).cluster(named: "demo")
                        #expect(cluster.state == "ready")
                        #expect(cluster.nodes.count == 5)
                        #expect(simulator.state()["Servers"]?.arrayValue?.count == 5)
                        try await worker.terminate()
                    }
                }
            }
        } catch {
            await simulator.stop()
            throw error
        }
        await simulator.stop()
    }
}
