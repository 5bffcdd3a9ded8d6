import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Provisioner
import SakuraSimulator
import Server
import Testing
@testable import Workflows

/// The health checks through `kaji` processes: `kaji cluster show` and a `kaji worker` that checks what it
/// provisioned. The checks themselves are tested in WorkflowsTests/HealthCheckTests.
@Suite("API health checks through kaji processes", .serialized, .timeLimit(.minutes(5)), .needsDatabaseAndSSHD)
struct HealthCheckProcessTests {
    @Test("kaji cluster show prints the latest result and the last change, in text and --json")
    func clusterShow() async throws {
        try await ClusterTestEnvironment.with { env in
            _ = try await env.provisionHealthChecked(name: "hc-b")
            try await env.withHealthCheckers {
                try await eventually("hc-b is checked and up", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-b")?.status == "up"
                }
                try env.simulator.setAPICheck("etcd", failing: true)
                try await eventually("etcd is stored as failed", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-b")?.status == "failing: etcd"
                }
            }
            let text = try await ManifestCLI.run(["cluster", "show", "hc-b"] + env.database.cliArguments)
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout.contains("api health     up, failing: etcd (HTTP 500"), "\(text.stdout)")
            #expect(text.stdout.contains("api reason     readyz check failed: etcd"), "\(text.stdout)")
            #expect(text.stdout.contains("etcd failed: reason withheld"), "\(text.stdout)")
            #expect(text.stdout.contains("api changed") && text.stdout.contains(": up → failing: etcd"), "\(text.stdout)")
            let json = try await ManifestCLI.run(["cluster", "show", "hc-b", "--json"] + env.database.cliArguments)
            #expect(json.status == 0, "\(json)")
            let document = try JSONValue.parse(Data(json.stdout.utf8))
            #expect(document["name"]?.stringValue == "hc-b")
            #expect(document["health"]?["status"]?.stringValue == "failing: etcd")
            #expect(document["health"]?["previousStatus"]?.stringValue == "up")
            #expect(document["health"]?["latest"]?["up"]?.boolValue == true)
            let etcd = document["health"]?["latest"]?["checks"]?.arrayValue?.first { $0["name"]?.stringValue == "etcd" }
            #expect(etcd?["ok"]?.boolValue == false && etcd?["detail"]?.stringValue == "failed: reason withheld")
        }
    }

    @Test("kaji worker configured from its environment checks the clusters it provisioned; the metrics text passes promtool")
    func workerProcess() async throws {
        try await ClusterTestEnvironment.with { env in
            let scratch = (env.settings.manifestDirectory as NSString).deletingLastPathComponent
            let overrides = try #require(env.simulator.apiServerOverridesFile)
            let environment = [
                "SAKURACLOUD_ACCESS_TOKEN": "kaji-sim-token", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "kaji-sim-secret", "SAKURACLOUD_ZONE": "is1a",
                "KAJI_SAKURA_BASE_URL": env.simulator.baseURL, "KAJI_SAKURA_RPS": "0", "KAJI_SSH_KEY": env.sshd.clientKey,
                "KAJI_SSH_KNOWN_HOSTS": scratch + "/worker_known_hosts", "KAJI_NODE_SSH_USER": "root", "KAJI_CLUSTER_POLL_MS": "200",
                "KAJI_KUBE_MANIFEST_DIR": env.settings.manifestDirectory, "KAJI_CNI_MANIFEST": "kube-flannel.yml",
                "KAJI_OWNER_KEYS_FILE": env.settings.ownerKeysFile, "KAJI_API_ENDPOINT_OVERRIDES": overrides,
                "KAJI_HEALTH_TIMEOUT_MS": "3000", "KAJI_LOG_LEVEL": "info",
            ]
            let worker = try KajiProcess(["worker"] + env.database.cliArguments + ["--id", "hc-proc", "--concurrency", "4"], environment: environment)
            var spec = testClusterSpec(name: "hc-p", masters: 1, workers: 0)
            spec.healthCheck = .init(interval: "1s")
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            let run = try await env.waitForFinish(id, timeout: .seconds(120))
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await eventually("the worker process stored a passing check of hc-p", timeout: .seconds(60)) {
                try await env.latestHealth("hc-p")?.latest.passed == true
            }
            #expect(try await env.latestHealth("hc-p")?.latest.checkedBy == "worker:hc-proc")
            let ended = try await worker.terminate()
            #expect(ended.status == 0, "SIGTERM drains the pool and stops the checker: \(ended)")

            let metrics = try await ClusterHealthMetrics.render(client: env.client)
            #expect(metrics.contains("kaji_cluster_apiserver_up{cluster=\"hc-p\"} 1\n"))
            let promtool = "/usr/bin/promtool"
            if FileManager.default.isExecutableFile(atPath: promtool) {
                let file = TestEnvironment.temporaryPath("metrics.txt")
                try metrics.write(toFile: file, atomically: true, encoding: .utf8)
                let checked = try await ChildProcess.run("/bin/sh", ["-c", "\(promtool) check metrics < \(file)"], timeout: .seconds(30))
                #expect(checked.status == 0, "promtool check metrics: \(checked)")
            }
        }
    }
}
