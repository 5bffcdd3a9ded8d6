import Engine
import Foundation
import KajiTesting
import Provisioner
import Testing
@testable import Workflows

/// PostgreSQL restarted (`pg_ctl restart -m fast`: every connection cut with 57P01) in the middle of the
/// cluster workflows, on a server of the test's own. The runs go on where they stopped: nothing is created
/// twice, nothing fails, nothing is undone.
@Suite("Cluster workflows through a PostgreSQL restart", .serialized, .timeLimit(.minutes(5)), .needsDatabaseAndSSHD)
struct DatabaseRestartTests {
    static func expectNothingFailed(_ env: ClusterTestEnvironment, _ id: UUID) async throws {
        let events = try await env.store.auditEvents(runID: id)
        #expect(!events.contains { ["run.failed", "run.compensating", "run.retrying"].contains($0.type) },
                "events: \(events.map(\.type).joined(separator: ", "))")
    }

    /// Waits for the run to finish while the server may still be coming back (queries fail meanwhile).
    static func waitThroughOutage(_ env: ClusterTestEnvironment, _ id: UUID) async throws -> RunSummary {
        var last: RunSummary?
        try await eventually("run \(id) finishes", timeout: .seconds(150)) {
            last = try? await env.store.run(id: id)
            return last?.state.isFinished ?? false
        }
        return try #require(last)
    }

    @Test("a restart mid-provision (3 masters + 2 workers), then mid-scale-out (2 → 4 workers): exactly 1 switch, 7 servers, 7 disks")
    func restartMidProvisionAndScaleOut() async throws {
        let server = try await PrivateServer.start()
        do {
            try await ClusterTestEnvironment.with(databaseURL: server.url) { env in
                let pool = env.startPool()
                let spec = testClusterSpec(name: "pg-restart")
                let provision = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
                try await eventually("some servers exist", timeout: .seconds(60)) { try await env.resources("Servers").count >= 2 }
                try await server.restartFast()
                let run = try await Self.waitThroughOutage(env, provision)
                #expect(run.state == .succeeded, "\(run.lastError ?? "")")
                #expect(run.attempt == 1)
                try await Self.expectNothingFailed(env, provision)
                #expect(try await env.resources("Switches").count == 1)
                #expect(try await env.resources("Servers").count == 5)
                #expect(try await env.resources("Disks").count == 5)
                #expect(try await env.services.inventory.get("pg-restart")?.state == "ready")

                var bigger = spec
                bigger.workers.replicas = 4
                let scale = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: bigger)),
                                                                        concurrencyKey: bigger.concurrencyKey, actor: "cli:alice@host")).id
                try await eventually("a new server exists", timeout: .seconds(60)) { try await env.resources("Servers").count >= 6 }
                try await server.restartFast()
                let scaled = try await Self.waitThroughOutage(env, scale)
                try await pool.stop()
                #expect(scaled.state == .succeeded, "\(scaled.lastError ?? "")")
                try await Self.expectNothingFailed(env, scale)
                #expect(try await env.resources("Switches").count == 1)
                #expect(try await env.resources("Servers").count == 7)
                #expect(try await env.resources("Disks").count == 7)
                let cluster = try #require(try env.simulatedCluster())
                #expect(cluster.nodes.count == 7)
                #expect(try await env.services.inventory.get("pg-restart")?.nodes.count == 7)
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("a restart while a backup waits on Velero's phase: the backup completes, one Velero backup exists")
    func restartMidBackup() async throws {
        let server = try await PrivateServer.start()
        do {
            try await BackupFixtures.with(databaseURL: server.url) { env in
                typealias F = BackupFixtures
                let ssh = try F.ssh(env)
                let cluster = try await F.seedCluster(env, ssh: ssh)
                try await F.simNode(ssh, cluster, "set backup-phase InProgress")
                let registry = BackupTests.registry(F.services(env, ssh: ssh))
                let pool = F.startPool(env, registry)
                let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "restart-1"))
                try await eventually("the run waits on backup-phase", timeout: .seconds(60)) {
                    let detail = try await env.store.runDetail(id: id)
                    return detail?.steps.contains { $0.name == "backup-phase" && ($0.wait ?? "").contains("restart-1 is InProgress") } == true
                }
                try await server.restartFast()
                try await F.simNode(ssh, cluster, "backup-phase restart-1 Completed")
                try await eventually("the backup run finishes", timeout: .seconds(150)) {
                    (try? await env.store.run(id: id))??.state.isFinished ?? false
                }
                let detail = try await F.waitForFinish(env, id, timeout: .seconds(30))
                try await pool.stop()
                #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
                #expect(try await BackupTests.backups(ssh, cluster).count == 1)
                let events = try await env.store.auditEvents(runID: id)
                #expect(!events.contains { ["run.failed", "run.retrying", "step.failed"].contains($0.type) })
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
