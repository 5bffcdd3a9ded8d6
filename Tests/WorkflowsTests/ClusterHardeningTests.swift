import Engine
import Foundation
import KajiTesting
import Provisioner
import Testing
import Worker
@testable import Workflows

/// Cluster side effects that are safe to repeat or undo (issue 9, item 5), end to end on real PostgreSQL,
/// the simulator over HTTP and the real sshd with the simulated node tools.
@Suite("Cluster hardening: join secrets, scale-out undo, fenced inventory", .serialized, .timeLimit(.minutes(4)), .needsDatabaseAndSSHD)
struct ClusterHardeningTests {
    /// The world's `commands.log`: every session's command line and every node tool's argv.
    static func commandLog(_ env: ClusterTestEnvironment) throws -> String {
        try String(contentsOfFile: "\(env.sshd.simState)/\(env.world)/commands.log", encoding: .utf8)
    }

    /// The simulated cluster's `cluster.json` as JSON.
    static func clusterState(_ env: ClusterTestEnvironment) throws -> [String: Any] {
        let data = try #require(FileManager.default.contents(atPath: "\(env.sshd.simState)/\(env.world)/cluster.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func strings(_ state: [String: Any], _ key: String) -> [String] {
        state[key] as? [String] ?? []
    }

    static func etcdMembers(_ env: ClusterTestEnvironment) throws -> [String] {
        ((try clusterState(env))["etcdMembers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }.sorted()
    }

    @Test("join material never reaches a node process argument, and every bootstrap token is revoked after the joins")
    func joinSecretsStayOffTheCommandLine() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "sec-a", masters: 3, workers: 1)
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            let run = try await env.waitForFinish(id)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")

            let state = try Self.clusterState(env)
            let tokens = Self.strings(state, "issuedTokens")
            let keys = Self.strings(state, "issuedCertificateKeys")
            #expect(tokens.count >= 4, "init's token and one per join: \(tokens.count)")
            #expect(keys.count >= 3, "init's key and one upload-certs per joined master: \(keys.count)")
            #expect(Self.strings(state, "tokens").isEmpty, "every bootstrap token was deleted after the joins")

            let log = try Self.commandLog(env)
            // The joins happened, with the configuration on stdin and the tokens revoked by id.
            #expect(log.components(separatedBy: #""kubeadm", "join", "--config""#).count - 1 >= 3, "the three joins read --config")
            #expect(!log.contains(#""kubeadm", "join", "192.168.100.10:6443""#), "no join with material in its arguments")
            #expect(log.contains(#""kubeadm", "token", "delete""#))
            // Each join's root-only configuration file is gone again.
            let joinFiles = log.split(separator: "\n").filter { $0.contains(#""join", "--config""#) }
                .compactMap { line in line.split(separator: "\"").first { $0.hasPrefix("/tmp/kaji-join.") }.map(String.init) }
            #expect(joinFiles.count >= 3)
            #expect(joinFiles.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "join configuration files left behind: \(joinFiles)")
            // Counted, not compared in #expect, so that a failure does not print a secret.
            let leakedTokens = tokens.filter { log.contains($0) || log.contains(String($0.split(separator: ".").last ?? "")) }.count
            let leakedKeys = keys.filter { log.contains($0) }.count
            #expect(leakedTokens == 0, "bootstrap tokens (or their secret halves) in a process argument on a node")
            #expect(leakedKeys == 0, "certificate keys in a process argument on a node")
            // Nor stored anywhere by the engine.
            for secret in tokens + keys {
                let hits = try await env.scalarInt("""
                    SELECT (SELECT count(*) FROM steps WHERE strpos(coalesce(result::text, '') || coalesce(error, '') || coalesce(wait::text, ''), \(secret)) > 0)
                         + (SELECT count(*) FROM step_attempts WHERE strpos(coalesce(error, ''), \(secret)) > 0)
                         + (SELECT count(*) FROM audit_events WHERE strpos(coalesce(detail::text, ''), \(secret)) > 0)
                    """)
                #expect(hits == 0, "a join secret is stored")
            }
        }
    }

    @Test("undoing a 1→3 master scale-out removes the joined masters from the cluster and etcd one at a time before their servers go: 1 member, 1 node left")
    func scaleOutUndoLeavesQuorum() async throws {
        try await ClusterTestEnvironment.with { env in
            // cluster-ready of the scale-out gives up soon, so the run fails after both masters joined.
            var settings = env.settings
            settings.readyTimeout = .seconds(4)
            var registry = WorkflowRegistry()
            registerClusterWorkflows(into: &registry, services: env.services, settings: settings)
            let pool = Self.startPool(env, registry: registry)

            var spec = testClusterSpec(name: "undo-cp", masters: 1, workers: 0)
            let provision = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            #expect(try await env.waitForFinish(provision).state == .succeeded)
            #expect(try Self.etcdMembers(env) == ["undo-cp-master-1"])

            // From now on readyz reports etcd failing: the scale-out joins its masters, then cannot finish.
            let injector = SSHEndpoint(host: "127.0.0.1", port: env.sshd.port, environment: ["KAJI_SIM_WORLD": env.world, "KAJI_NODE": "injector"])
            _ = try await env.services.ssh.runChecked("kaji-sim-node set readyz-failing etcd", on: injector)
            spec.masters.replicas = 3
            let scale = try await KajiClient(store: env.store, catalog: registry.catalog)
                .enqueue(EnqueueRequest(kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: spec)), actor: "cli:alice@host")).id
            let run = try await env.waitForFinish(scale, timeout: .seconds(120))
            try await pool.stop()
            #expect(run.state == .failed)
            #expect((run.lastError ?? "").contains("cluster-ready"), "\(run.lastError ?? "")")

            let detail = try #require(try await env.store.runDetail(id: scale))
            for node in ["undo-cp-master-2", "undo-cp-master-3"] {
                #expect(detail.steps.contains { $0.name == "join:\(node)" && $0.state == .succeeded }, "\(node) had joined")
                let leave = try #require(detail.steps.first { $0.name == "undo-leave:\(node)" })
                #expect(leave.state == .succeeded)
                let result = try KajiJSON.decode(LeaveResult.self, from: try #require(leave.result))
                #expect(result == LeaveResult(wasMember: true, removedEtcdMember: true))
            }
            // Newest first, each finished before the next began, and all before any server was touched.
            let leave3 = try #require(detail.steps.first { $0.name == "undo-leave:undo-cp-master-3" })
            let leave2 = try #require(detail.steps.first { $0.name == "undo-leave:undo-cp-master-2" })
            let powerOff = try #require(detail.steps.first { $0.name == "undo:power-off" })
            let leave3Done = try #require(leave3.finishedAt), leave2Start = try #require(leave2.startedAt)
            let leave2Done = try #require(leave2.finishedAt), powerOffStart = try #require(powerOff.startedAt)
            #expect(leave3Done <= leave2Start)
            #expect(leave2Done <= powerOffStart)
            let log = try Self.commandLog(env)
            let removals = log.components(separatedBy: "\n").filter { $0.contains("remove-etcd-member") && $0.hasPrefix("[") }
            #expect(removals.count == 2)
            #expect(removals.first?.contains("undo-cp-master-3") == true, "master-3 leaves first: \(removals)")
            #expect(log.contains(#""kubectl", "drain", "undo-cp-master-3""#) && log.contains(#""kubectl", "delete", "node", "undo-cp-master-2""#))

            // What is left: one etcd member, one node, one server, the cluster ready as it was.
            #expect(try Self.etcdMembers(env) == ["undo-cp-master-1"])
            let master = SSHEndpoint(host: "127.0.0.1", port: env.sshd.port, environment: ["KAJI_SIM_WORLD": env.world, "KAJI_NODE": "undo-cp-master-1"])
            let members = try await env.services.ssh.runChecked("etcdctl member list", on: master).stdout
            #expect(members.split(separator: "\n").count == 1 && members.contains("undo-cp-master-1"), "etcdctl member list: \(members)")
            #expect(try env.simulatedCluster()?.nodes.map(\.name) == ["undo-cp-master-1"])
            #expect(try await env.resources("Servers").compactMap { $0["Name"]?.stringValue } == ["undo-cp-master-1"])
            let record = try #require(try await env.services.inventory.get("undo-cp"))
            #expect(record.state == "ready")
            #expect(record.nodes.map(\.name) == ["undo-cp-master-1"])
        }
    }

    @Test("inventory writes of steps are fenced: a write under a lost lease changes nothing, and concurrent node additions are all kept")
    func inventoryWritesAreFenced() async throws {
        try await ClusterTestEnvironment.with { env in
            let inventory = env.services.inventory
            let spec = testClusterSpec(name: "fence-a", masters: 1, workers: 0)
            try await inventory.upsert(ClusterRecord(name: "fence-a", zone: "is1a", spec: spec, state: "ready", switchID: "1", apiEndpoint: nil,
                                                     nodes: [Self.node("fence-a-master-1")], ownerTeam: nil, lastRunID: nil, createdAt: Date(), updatedAt: Date()))
            // A run held under epoch 2 (a rescuer took it from epoch 1).
            let runID = RunID.make()
            let token = UUID()
            _ = try await env.store.client.query("""
                INSERT INTO runs (id, kind, actor, state, epoch, lease_owner, lease_expires_at, claim_token)
                VALUES (\(runID), 'cluster.scale-out', 'test', 'running', 2, 'w2', now() + interval '1 minute', \(token))
                """, logger: env.logger)
            let stale = LeaseToken(runID: runID, epoch: 1, worker: "w1", token: UUID())
            let current = LeaseToken(runID: runID, epoch: 2, worker: "w2", token: token)
            await #expect(throws: KajiError.self) {
                _ = try await env.store.fenced(stale) { try await inventory.on($0).addNodes("fence-a", nodes: [Self.node("fence-a-worker-9")], spec: spec, state: "ready", runID: runID) }
            }
            do {
                _ = try await env.store.fenced(stale) { _ in true }
                Issue.record("a stale lease passed the fence")
            } catch let error as KajiError {
                #expect(error.code == .leaseLost)
            }
            #expect(try await inventory.get("fence-a")?.nodes.count == 1, "the stale write changed nothing")
            // A failing body rolls its writes back.
            await #expect(throws: WorkflowError.self) {
                try await env.store.fenced(current) { connection in
                    try await inventory.on(connection).setState("fence-a", state: "failed", runID: runID)
                    throw WorkflowError("boom")
                }
            }
            #expect(try await inventory.get("fence-a")?.state == "ready")

            // Ten concurrent additions under the fence: none is lost (no read-modify-write).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 1...10 {
                    group.addTask {
                        let added = try await env.store.fenced(current) { connection in
                            try await inventory.on(connection).addNodes("fence-a", nodes: [Self.node("fence-a-worker-\(i)")], spec: spec, state: "ready", runID: runID)
                        }
                        #expect(added)
                    }
                }
                try await group.waitForAll()
            }
            let record = try #require(try await inventory.get("fence-a"))
            #expect(record.nodes.count == 11)
            #expect(record.nodes.first?.name == "fence-a-master-1", "existing nodes keep their place")
            #expect(Set(record.nodes.map(\.name)) == Set(["fence-a-master-1"] + (1...10).map { "fence-a-worker-\($0)" }))
            // Replacing a node of the same name does not duplicate it.
            _ = try await env.store.fenced(current) { try await inventory.on($0).addNodes("fence-a", nodes: [Self.node("fence-a-worker-1")], spec: spec, state: "ready", runID: runID) }
            #expect(try await inventory.get("fence-a")?.nodes.count == 11)
            // Only a ready cluster moves to scaling; a second run cannot take it over.
            let other = UUID()
            #expect(try await inventory.transition("fence-a", from: ["ready"], to: "scaling", runID: runID))
            #expect(!(try await inventory.transition("fence-a", from: ["ready"], to: "scaling", runID: other)))
            #expect(!(try await inventory.transition("fence-a", from: ["scaling"], heldBy: other, to: "scaling", runID: other)))
            #expect(try await inventory.transition("fence-a", from: ["scaling"], heldBy: runID, to: "ready", runID: runID))
        }
    }

    static func node(_ name: String) -> ClusterNode {
        ClusterNode(name: name, role: .worker, serverID: "1", address: "192.168.100.99", sshHost: "127.0.0.1", sshPort: 22, sshUser: "root")
    }

    static func startPool(_ env: ClusterTestEnvironment, registry: WorkflowRegistry) -> PoolHandle {
        env.database.startPool(registry, pollInterval: .milliseconds(100))
    }
}
