import Engine
import Foundation
import Logging
import PostgresNIO
import Provisioner
import SakuraSimulator
import Testing
import Worker
@testable import Workflows

/// Everything an end-to-end cluster workflow test needs, all real: its own migrated schema on the test
/// PostgreSQL (KAJI_TEST_DATABASE_URL), an in-process SAKURA Cloud simulator (unit profile) reached over
/// HTTP, the loopback sshd with the simulated node tools (scripts/start-sshd.sh), and the cluster services
/// built on them. Worker pools are started by the test (`startPool`).
///
/// (Names are prefixed so this file merges with other helpers of the WorkflowsTests target.)
struct ClusterTestEnvironment: Sendable {
    let store: RunStore
    let config: DatabaseConfig
    let logger: Logger
    let simulator: SakuraSimulator
    let services: ClusterServices
    let settings: ClusterWorkflowSettings
    let registry: WorkflowRegistry
    /// The simulated nodes' world (their kubeadm state lives in `$KAJI_SIM_STATE/<world>/`).
    let world: String
    let sshd: ClusterTestSSHD

    var client: KajiClient { KajiClient(store: store, catalog: registry.catalog) }

    /// Runs `body` in a fresh environment and tears it down afterwards (schema dropped, simulator stopped).
    /// - Parameter databaseURL: another PostgreSQL server than the suite's (a test's private one).
    static func with<T: Sendable>(faults: [FaultRule] = [], databaseURL: String? = nil, _ body: @Sendable (ClusterTestEnvironment) async throws -> T) async throws -> T {
        let environment = ProcessInfo.processInfo.environment
        guard let url = databaseURL ?? environment["KAJI_TEST_DATABASE_URL"], !url.isEmpty else {
            throw ClusterTestError("KAJI_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, or eval \"$(scripts/start-pg.sh DIR)\"")
        }
        let sshd = try ClusterTestSSHD.fromEnvironment()
        var config = try DatabaseConfig(url: url, schema: "t_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        config.maxConnections = 20
        var logger = Logger(label: "kaji.test")
        logger.logLevel = environment["KAJI_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let migrator = Migrator(config: config, logger: logger)
        try await migrator.migrate()
        let world = "wf-\(UUID().uuidString.prefix(8).lowercased())"
        let simulator = try await SakuraSimulator.start(SakuraSimulatorConfiguration(
            profile: .unit, faults: faults, seed: UInt64.random(in: 1...1_000_000),
            nodes: SimulatedNodes.fromEnvironment(environment, world: world)))
        let cloud = SakuraCloudClient(
            configuration: SakuraCloudConfiguration(
                baseURL: simulator.baseURL, zone: "is1a",
                credentials: SakuraCloudCredentials(accessToken: "kaji-sim-token", accessTokenSecret: "kaji-sim-secret"),
                requestTimeout: .seconds(5), retry: SakuraRetryPolicy(maxRetries: 6, minWait: .milliseconds(10), maxWait: .milliseconds(200)),
                rateLimiter: SakuraRateLimiter(requestsPerSecond: 0), powerGate: InProcessPowerGate(),
                power: SakuraPowerPolicy(bootRetrySpan: .milliseconds(200), initialRequestTimeout: .seconds(30))),
            logger: logger)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-wf-\(world)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let ssh = SSHExecutor(configuration: SSHConfiguration(
            identity: try SSHIdentity.load(privateKeyPath: sshd.clientKey), knownHosts: KnownHostsFile(path: scratch + "/known_hosts"),
            connectTimeout: .seconds(2), connectAttempts: 2, connectRetryWait: .milliseconds(50)), logger: logger)
        let settings = ClusterWorkflowSettings(
            pollInterval: .milliseconds(200), diskTimeout: .seconds(60), bootTimeout: .seconds(60), sshTimeout: .seconds(60),
            readyTimeout: .seconds(60), shutdownTimeout: .seconds(60),
            cloudRetry: RetryPolicy(maxAttempts: 10, initialDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
            nodeRetry: RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
            sshUser: "root", nodeCommandDeadline: .seconds(30), manifestDirectory: scratch + "/manifests",
            cniManifest: "kube-flannel.yml", ownerKeysFile: scratch + "/owner_authorized_keys")
        let pg = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await pg.run() }
            let store = RunStore(client: pg, config: config, logger: logger)
            let services = ClusterServices(cloud: cloud, ssh: ssh, inventory: ClusterInventory(store: store), logger: logger)
            var registry = WorkflowRegistry()
            registerClusterWorkflows(into: &registry, services: services, settings: settings)
            let env = ClusterTestEnvironment(store: store, config: config, logger: logger, simulator: simulator, services: services, settings: settings,
                                             registry: registry, world: world, sshd: sshd)
            let result: Result<T, any Error>
            do { result = .success(try await body(env)) } catch { result = .failure(error) }
            group.cancelAll()
            return result
        }
        await ssh.closeConnections()
        await simulator.stop()
        try? await migrator.dropSchema()
        try? FileManager.default.removeItem(atPath: scratch)
        return try result.get()
    }

    /// A worker pool with a database client of its own, to be crashed: `crash()` closes that client's
    /// connections abruptly and cancels the pool, so the pool can record nothing more (not even giving its
    /// runs back): its leases must expire, as when a worker process is killed.
    func startCrashablePool(leaseSeconds: Double, id: String) -> CrashablePool {
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let connections = Task { await client.run() }
        let pool = startPool(leaseSeconds: leaseSeconds, id: id, store: RunStore(client: client, config: config, logger: logger))
        return CrashablePool(pool: pool, connections: connections)
    }

    /// An in-process worker pool running until stopped.
    func startPool(concurrency: Int = 4, leaseSeconds: Double = 30, id: String? = nil, store: RunStore? = nil) -> ClusterTestPool {
        let store = store ?? self.store
        var configuration = WorkerConfiguration(concurrency: concurrency, leaseSeconds: leaseSeconds, pollInterval: .milliseconds(100),
                                                rescueInterval: .milliseconds(300), drainTimeout: .seconds(5), inlineRetryLimit: .seconds(2))
        if let id { configuration.id = id }
        let pool = WorkerPool(configuration: configuration, store: store, registry: registry, logger: logger)
        return ClusterTestPool(pool: pool, task: Task { try await pool.run() })
    }

    /// Waits until the run is finished, or throws after `timeout`.
    @discardableResult
    func waitForFinish(_ id: UUID, timeout: Duration = .seconds(60)) async throws -> RunSummary {
        var last: RunSummary?
        try await clusterEventually("run \(id) finishes", timeout: timeout) {
            last = try await store.run(id: id)
            return last?.state.isFinished ?? false
        }
        guard let last else { throw ClusterTestError("run \(id) vanished") }
        return last
    }

    /// Enqueues as `requester`, waits until the run waits for its approval, approves it as `approver`.
    func enqueueApproved(kind: String, input: some Encodable & Sendable, requester: String = "cli:alice@host", approver: String = "cli:bob@host") async throws -> UUID {
        let id = try await client.enqueue(EnqueueRequest(kind: kind, input: try KajiJSON.string(input), actor: requester)).id
        try await waitForApproval(id)
        try await client.decide(runID: id, approved: true, reason: "looks right", sender: approver)
        return id
    }

    func waitForApproval(_ id: UUID) async throws {
        try await clusterEventually("run \(id) waits for its approval") {
            try await scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(id) AND name = 'approval' AND state = 'waiting'") == 1
        }
    }

    /// The simulator's whole state (what `GET /_fake/state` answers).
    func cloudState() async throws -> SimulatorJSON {
        simulator.state()
    }

    /// The resources of one kind (`Servers`, `Disks`, `Switches`) in the simulator.
    func resources(_ key: String) async throws -> [SimulatorJSON] {
        try await cloudState()[key]?.arrayValue ?? []
    }

    /// The simulated kubeadm cluster of this test's world (`cluster.json`), or nil.
    func simulatedCluster() throws -> SimulatedCluster? {
        let path = "\(sshd.simState)/\(world)/cluster.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder().decode(SimulatedCluster.self, from: data)
    }

    func scalarInt(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await store.client.query(query, logger: logger).decode(Int.self) { return value }
        return 0
    }
}

/// The parts of the node tools' `cluster.json` the tests read.
struct SimulatedCluster: Decodable {
    struct Node: Decodable {
        var name: String
        var role: String
    }
    var endpoint: String
    /// Live bootstrap tokens (Kaji revokes each after its join).
    var tokens: [String]
    var certificateKey: String?
    /// Every bootstrap token and certificate key ever issued (for secret checks).
    var issuedTokens: [String]?
    var issuedCertificateKeys: [String]?
    var cni: Bool
    var nodes: [Node]
}

/// The loopback sshd of scripts/start-sshd.sh.
struct ClusterTestSSHD: Sendable {
    var port: Int
    var clientKey: String
    var directory: String
    var simState: String

    static func fromEnvironment() throws -> ClusterTestSSHD {
        let environment = ProcessInfo.processInfo.environment
        guard let port = environment["KAJI_TEST_SSHD_PORT"].flatMap(Int.init), let key = environment["KAJI_TEST_SSH_KEY"],
              let directory = environment["KAJI_TEST_SSHD_DIR"], let state = environment["KAJI_SIM_STATE"] else {
            throw ClusterTestError("KAJI_TEST_SSHD_PORT, KAJI_TEST_SSH_KEY, KAJI_TEST_SSHD_DIR and KAJI_SIM_STATE are not set: run the tests with scripts/test.sh, or eval \"$(scripts/start-sshd.sh DIR)\"")
        }
        return ClusterTestSSHD(port: port, clientKey: key, directory: directory, simState: state)
    }
}

struct ClusterTestPool: Sendable {
    let pool: WorkerPool
    let task: Task<Void, any Error>

    func stop() async throws {
        pool.shutdown()
        try await task.value
    }
}

struct CrashablePool: Sendable {
    let pool: ClusterTestPool
    let connections: Task<Void, Never>

    func crash() async {
        connections.cancel()
        pool.task.cancel()
        _ = try? await pool.task.value
        await connections.value
    }
}

struct ClusterTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 25 ms until it holds, failing after `timeout`.
func clusterEventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        if ContinuousClock.now >= deadline {
            throw ClusterTestError("timed out after \(timeout) waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(25))
    }
}

/// A manifest for tests: `masters` + `workers` nodes in zone is1a on 192.168.100.0/24.
func testClusterSpec(name: String, masters: Int = 3, workers: Int = 2, ownerKeys: [String] = [SSHIdentity.generate().publicKeyLine]) -> ClusterSpec {
    ClusterSpec(
        name: name, zone: "is1a", kubernetesVersion: "1.33.2",
        network: .init(subnet: "192.168.100.0/24", controlPlaneVIP: "192.168.100.10", nodeAddressStart: "192.168.100.11",
                       loadBalancerRange: "192.168.100.200-192.168.100.220"),
        masters: .init(replicas: masters, plan: .init(cpu: 2, memoryGB: 4), diskGB: 40),
        workers: .init(replicas: workers, plan: .init(cpu: 4, memoryGB: 8), diskGB: 100),
        owners: .init(team: "payments", sshKeys: ownerKeys))
}
