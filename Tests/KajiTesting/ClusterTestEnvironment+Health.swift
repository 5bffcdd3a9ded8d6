import Engine
import Foundation
import Testing
import Workflows

/// Health-check helpers shared by WorkflowsTests and ProcessTests.
extension ClusterTestEnvironment {
    /// Provisions cluster `name` (1 master, health checked every second), returns its inventory record.
    package func provisionHealthChecked(name: String) async throws -> ClusterRecord {
        var spec = testClusterSpec(name: name, masters: 1, workers: 0)
        spec.healthCheck = .init(interval: "1s")
        let pool = self.startPool()
        let id = try await self.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
        let run = try await self.waitForFinish(id, timeout: .seconds(120))
        try await pool.stop()
        #expect(run.state == .succeeded, "\(run.lastError ?? "")")
        return try #require(try await self.services.inventory.get(name))
    }

    /// Two checkers, as two workers would run them, until `body` returns.
    package func withHealthCheckers<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let overrides = try #require(self.simulator.apiServerOverridesFile, "the simulator knows the node state (KAJI_SIM_STATE)")
        let tasks = ["worker:hc-1", "worker:hc-2"].map { checker in
            let settings = ClusterHealthSettings(checker: checker, zone: "is1a", timeout: .seconds(3), retention: .seconds(3600),
                                                 overrides: .file(overrides), maxPause: .milliseconds(500))
            let service = ClusterHealthChecker(client: self.client, inventory: self.services.inventory, settings: settings, logger: self.logger)
            return Task { try await service.run() }
        }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        return try result.get()
    }

    package func latestHealth(_ name: String) async throws -> ClusterHealth? {
        try await self.client.clusterHealth(cluster: name)
    }

}
