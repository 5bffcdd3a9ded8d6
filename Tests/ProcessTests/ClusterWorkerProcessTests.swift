import Engine
import Foundation
import KajiTesting
import Testing
import Workflows

/// `kaji worker` processes that run the cluster workflows (configured from the environment), killed with
/// SIGKILL mid-provisioning (moved from WorkflowsTests' WorkerProcessTests).
@Suite("Cluster workflows in kaji worker processes", .serialized, .timeLimit(.minutes(3)), .needsDatabaseAndSSHD)
struct ClusterWorkerProcessTests {
    @Test("kill -9 of a kaji worker during provisioning: a second worker process completes the cluster with exactly 5 servers")
    func killedWorkerProcess() async throws {
        try await ClusterTestEnvironment.with { env in
            let scratch = (env.settings.manifestDirectory as NSString).deletingLastPathComponent
            let environment = [
                "SAKURACLOUD_ACCESS_TOKEN": "kaji-sim-token", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "kaji-sim-secret", "SAKURACLOUD_ZONE": "is1a",
                "KAJI_SAKURA_BASE_URL": env.simulator.baseURL, "KAJI_SAKURA_RPS": "0", "KAJI_SSH_KEY": env.sshd.clientKey,
                "KAJI_SSH_KNOWN_HOSTS": scratch + "/worker_known_hosts", "KAJI_NODE_SSH_USER": "root", "KAJI_CLUSTER_POLL_MS": "200",
                "KAJI_KUBE_MANIFEST_DIR": env.settings.manifestDirectory, "KAJI_CNI_MANIFEST": "kube-flannel.yml",
                "KAJI_OWNER_KEYS_FILE": env.settings.ownerKeysFile,
            ]
            let spec = testClusterSpec(name: "proc-a")
            let first = try Self.spawnWorker(env, environment: environment, id: "proc-1")
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            try await eventually("some servers exist", timeout: .seconds(30)) { try await env.resources("Servers").count >= 2 }
            try await first.kill()
            #expect(first.stderr.contains("cluster workflows configured"))
            let atKill = try #require(try await env.store.run(id: id))
            #expect(!atKill.state.isFinished)

            let second = try Self.spawnWorker(env, environment: environment, id: "proc-2")
            let run = try await env.waitForFinish(id, timeout: .seconds(60))
            try await second.terminate()
            #expect(run.state == .succeeded, "\(run.lastError ?? "") — worker stderr: \(second.stderr.suffix(1500))")
            let servers = try await env.resources("Servers")
            #expect(servers.count == 5)
            #expect(try await env.resources("Disks").count == 5)
            #expect(try await env.resources("Switches").count == 1)
            let cluster = try #require(try env.simulatedCluster())
            #expect(cluster.nodes.count == 5 && cluster.nodes.filter { $0.role == "control-plane" }.count == 3)
            #expect(try await env.services.inventory.get("proc-a")?.state == "ready")
            let workers = Set(try await env.store.runDetail(id: id)?.steps.compactMap(\.worker) ?? [])
            #expect(workers.contains("proc-2"))
        }
    }

    /// A `kaji worker` process on the environment's schema (its output on stdout is not kept).
    static func spawnWorker(_ env: ClusterTestEnvironment, environment: [String: String], id: String) throws -> KajiProcess {
        try KajiProcess(["worker"] + env.database.cliArguments + ["--lease-seconds", "2", "--concurrency", "4", "--id", id],
                        environment: environment.merging(["KAJI_LOG_LEVEL": "info"]) { _, new in new })
    }
}
