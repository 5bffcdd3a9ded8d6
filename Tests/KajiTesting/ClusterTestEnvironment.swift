import Engine
import Foundation
import Logging
import PostgresNIO
import Provisioner
import SakuraSimulator
import Testing
import Worker
import Workflows

/// Everything an end-to-end cluster workflow test needs, all real: its own migrated schema on the test
/// PostgreSQL (KAJI_TEST_DATABASE_URL), an in-process SAKURA Cloud simulator (unit profile) reached over
/// HTTP, the loopback sshd with the simulated node tools (scripts/start-sshd.sh), and the cluster services
/// built on them. Worker pools are started by the test (`startPool`).
package struct ClusterTestEnvironment: Sendable {
    /// The test's schema (`KAJI_TEST_DATABASE_URL` or a private server).
    package let database: TestDatabase
    package var store: RunStore { database.store }
    package var config: DatabaseConfig { database.config }
    package var logger: Logger { database.logger }
    package let simulator: SakuraSimulator
    package let services: ClusterServices
    package let settings: ClusterWorkflowSettings
    package let registry: WorkflowRegistry
    /// The simulated nodes' world (their kubeadm state lives in `$KAJI_SIM_STATE/<world>/`).
    package let world: String
    package let sshd: TestSSHD

    package var client: KajiClient { KajiClient(store: store, catalog: registry.catalog) }

    /// Runs `body` in a fresh environment and tears it down afterwards (schema dropped, simulator stopped).
    /// - Parameter databaseURL: another PostgreSQL server than the suite's (a test's private one).
    package static func with<T: Sendable>(faults: [FaultRule] = [], databaseURL: String? = nil, _ body: @Sendable (ClusterTestEnvironment) async throws -> T) async throws -> T {
        let sshd = try TestSSHD.fromEnvironment()
        return try await TestDatabase.with(url: databaseURL, maxConnections: 20) { db in
            let logger = db.logger
            let world = "wf-\(UUID().uuidString.prefix(8).lowercased())"
            let simulator = try await SakuraSimulator.start(SakuraSimulatorConfiguration(
                profile: .unit, faults: faults, seed: UInt64.random(in: 1...1_000_000),
                nodes: SimulatedNodes.fromEnvironment(TestEnvironment.variables, world: world)))
            let cloud = TestSimulator.client(
                of: simulator, accessToken: "kaji-sim-token", accessTokenSecret: "kaji-sim-secret",
                retry: SakuraRetryPolicy(maxRetries: 6, minWait: .milliseconds(10), maxWait: .milliseconds(200)), requestTimeout: .seconds(5),
                power: SakuraPowerPolicy(bootRetrySpan: .milliseconds(200), initialRequestTimeout: .seconds(30)), logger: logger)
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-wf-\(world)").path
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let ssh: SSHExecutor
            do {
                ssh = try sshd.executor(connectAttempts: 2, knownHosts: scratch + "/known_hosts", logger: logger)
            } catch {
                await simulator.stop()
                throw error
            }
            let settings = ClusterWorkflowSettings(
                pollInterval: .milliseconds(200), diskTimeout: .seconds(60), bootTimeout: .seconds(60), sshTimeout: .seconds(60),
                readyTimeout: .seconds(60), shutdownTimeout: .seconds(60),
                cloudRetry: RetryPolicy(maxAttempts: 10, initialDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
                nodeRetry: RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
                sshUser: "root", nodeCommandDeadline: .seconds(30), manifestDirectory: scratch + "/manifests",
                cniManifest: "kube-flannel.yml", ownerKeysFile: scratch + "/owner_authorized_keys")
            let services = ClusterServices(cloud: cloud, ssh: ssh, inventory: ClusterInventory(store: db.store), logger: logger)
            var registry = WorkflowRegistry()
            registerClusterWorkflows(into: &registry, services: services, settings: settings)
            let env = ClusterTestEnvironment(database: db, simulator: simulator, services: services, settings: settings,
                                             registry: registry, world: world, sshd: sshd)
            let result: Result<T, any Error>
            do { result = .success(try await body(env)) } catch { result = .failure(error) }
            await ssh.closeConnections()
            await simulator.stop()
            try? FileManager.default.removeItem(atPath: scratch)
            return try result.get()
        }
    }

    /// A worker pool with a database client of its own, to be crashed: `crash()` closes that client's
    /// connections abruptly and cancels the pool, so the pool can record nothing more (not even giving its
    /// runs back): its leases must expire, as when a worker process is killed.
    package func startCrashablePool(leaseSeconds: Double, id: String) -> CrashablePool {
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let connections = Task { await client.run() }
        let pool = startPool(leaseSeconds: leaseSeconds, id: id, store: RunStore(client: client, config: config, logger: logger))
        return CrashablePool(pool: pool, connections: connections)
    }

    /// An in-process worker pool running until stopped.
    package func startPool(concurrency: Int = 4, leaseSeconds: Double = 30, id: String? = nil, store: RunStore? = nil) -> PoolHandle {
        database.startPool(registry, concurrency: concurrency, leaseSeconds: leaseSeconds, pollInterval: .milliseconds(100), id: id, store: store)
    }

    /// Waits until the run is finished, or throws after `timeout`.
    @discardableResult
    package func waitForFinish(_ id: UUID, timeout: Duration = .seconds(60)) async throws -> RunSummary {
        try await database.waitForFinish(id, timeout: timeout)
    }

    /// Enqueues as `requester`, waits until the run waits for its approval, approves it as `approver` (an
    /// authenticated principal: the database-direct CLI's approval does not count for provision and delete).
    package func enqueueApproved(kind: String, input: some Encodable & Sendable, requester: String = "cli:alice@host", approver: String = "token:bob") async throws -> UUID {
        let id = try await client.enqueue(EnqueueRequest(kind: kind, input: try KajiJSON.string(input), actor: requester)).id
        try await waitForApproval(id)
        try await client.decide(runID: id, approved: true, reason: "looks right", sender: approver)
        return id
    }

    package func waitForApproval(_ id: UUID) async throws {
        try await eventually("run \(id) waits for its approval") {
            try await scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(id) AND name = 'approval' AND state = 'waiting'") == 1
        }
    }

    /// The simulator's whole state (what `GET /_fake/state` answers).
    package func cloudState() async throws -> SimulatorJSON {
        simulator.state()
    }

    /// The resources of one kind (`Servers`, `Disks`, `Switches`) in the simulator.
    package func resources(_ key: String) async throws -> [SimulatorJSON] {
        try await cloudState()[key]?.arrayValue ?? []
    }

    /// The simulated kubeadm cluster of this test's world (`cluster.json`), or nil.
    package func simulatedCluster() throws -> SimulatedCluster? {
        let path = "\(sshd.simState)/\(world)/cluster.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder().decode(SimulatedCluster.self, from: data)
    }

    package func scalarInt(_ query: PostgresQuery) async throws -> Int {
        try await database.scalarInt(query)
    }
}

/// The parts of the node tools' `cluster.json` the tests read.
package struct SimulatedCluster: Decodable {
    package struct Node: Decodable {
        package var name: String
        package var role: String
    }
    package var endpoint: String
    /// Live bootstrap tokens (Kaji revokes each after its join).
    package var tokens: [String]
    package var certificateKey: String?
    /// Every bootstrap token and certificate key ever issued (for secret checks).
    package var issuedTokens: [String]?
    package var issuedCertificateKeys: [String]?
    package var cni: Bool
    package var nodes: [Node]
}

/// An in-process pool that `crash()` stops without a word (see `ClusterTestEnvironment.startCrashablePool`).
package struct CrashablePool: Sendable {
    package let pool: PoolHandle
    package let connections: Task<Void, Never>

    package func crash() async {
        connections.cancel()
        pool.task.cancel()
        _ = try? await pool.task.value
        await connections.value
    }
}

/// A manifest for tests: `masters` + `workers` nodes in zone is1a on 192.168.100.0/24.
package func testClusterSpec(name: String, masters: Int = 3, workers: Int = 2, ownerKeys: [String] = [SSHIdentity.generate().publicKeyLine]) -> ClusterSpec {
    ClusterSpec(
        name: name, zone: "is1a", kubernetesVersion: "1.33.2",
        network: .init(subnet: "192.168.100.0/24", controlPlaneVIP: "192.168.100.10", nodeAddressStart: "192.168.100.11",
                       loadBalancerRange: "192.168.100.200-192.168.100.220"),
        masters: .init(replicas: masters, plan: .init(cpu: 2, memoryGB: 4), diskGB: 40),
        workers: .init(replicas: workers, plan: .init(cpu: 4, memoryGB: 8), diskGB: 100),
        owners: .init(team: "payments", sshKeys: ownerKeys))
}
