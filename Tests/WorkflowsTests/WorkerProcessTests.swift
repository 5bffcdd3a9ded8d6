import Engine
import Foundation
import Testing
@testable import Workflows

/// `kaji worker` processes that run the cluster workflows (configured from the environment), killed with
/// SIGKILL mid-provisioning.
@Suite("Cluster workflows in kaji worker processes", .serialized, .timeLimit(.minutes(3)))
struct WorkerProcessTests {
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
            let first = try ClusterWorkerProcess(env: env, environment: environment, id: "proc-1")
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            try await clusterEventually("some servers exist", timeout: .seconds(30)) { try await env.resources("Servers").count >= 2 }
            first.kill()
            #expect(first.stderr.contains("cluster workflows configured"))
            let atKill = try #require(try await env.store.run(id: id))
            #expect(!atKill.state.isFinished)

            let second = try ClusterWorkerProcess(env: env, environment: environment, id: "proc-2")
            let run = try await env.waitForFinish(id, timeout: .seconds(60))
            second.terminate()
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
}

/// A `kaji worker` process on the environment's schema.
final class ClusterWorkerProcess: @unchecked Sendable {
    let process = Process()
    let stderrPath: String

    init(env: ClusterTestEnvironment, environment: [String: String], id: String) throws {
        let binary: String
        if let path = ProcessInfo.processInfo.environment["KAJI_BIN"], FileManager.default.isExecutableFile(atPath: path) {
            binary = path
        } else {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            binary = root.appendingPathComponent(".build/debug/kaji").path
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ClusterTestError("the kaji executable was not found: set KAJI_BIN or build it (swift build --build-tests)")
        }
        stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-worker-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        guard let url = ProcessInfo.processInfo.environment["KAJI_TEST_DATABASE_URL"] else { throw ClusterTestError("KAJI_TEST_DATABASE_URL is not set") }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["worker", "--database-url", url, "--schema", env.config.schema, "--lease-seconds", "2", "--concurrency", "4", "--id", id]
        var merged = ProcessInfo.processInfo.environment
        merged["KAJI_LOG_LEVEL"] = "info"
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGKILL: no drain, no release, no last words.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        Foundation.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}
