import Engine
import Foundation
import Logging
import PostgresNIO
import Provisioner
import Synchronization
import Testing
import Worker
import Workflows

/// Fixtures of the backup, restore and rotation tests (WorkflowsTests' BackupTests and RotatePasswordTests,
/// ProcessTests' RotatePasswordProcessTests): a migrated schema of its own on the test PostgreSQL, an
/// in-process worker pool, the test sshd, and a simulated cluster seeded straight into the inventory.
package enum BackupFixtures {
    package struct SetupError: Error, CustomStringConvertible {
        package let description: String
        package init(_ description: String) { self.description = description }
    }

    /// The test environment: PostgreSQL from KAJI_TEST_DATABASE_URL, sshd from scripts/start-sshd.sh.
    package struct Env: Sendable {
        package let database: TestDatabase
        package let logs: LogCapture
        package let sshd: TestSSHD

        package var config: DatabaseConfig { database.config }
        package var store: RunStore { database.store }
        package var logger: Logger { database.logger }
        package var client: GuardedClient { store.client }
        package var sshdPort: Int { sshd.port }
        package var clientKey: String { sshd.clientKey }
    }

    /// Runs `body` with a fresh migrated schema and a captured logger (trace level); drops the schema after.
    /// - Parameter url: another PostgreSQL server than the suite's (a test's private one).
    package static func with<T: Sendable>(databaseURL url: String? = nil, _ body: @Sendable (Env) async throws -> T) async throws -> T {
        let sshd = try TestSSHD.fromEnvironment()
        let logs = LogCapture()
        var logger = Logger(label: "kaji.test.backup") { label in logs.handler(label: label) }
        logger.logLevel = .trace
        return try await TestDatabase.with(url: url, storeLogger: logger) { db in
            try await body(Env(database: db, logs: logs, sshd: sshd))
        }
    }

    /// An SSH executor with the test client key and a fresh known-hosts file; it logs through `logger`.
    package static func ssh(_ env: Env) throws -> SSHExecutor {
        try env.sshd.executor(logger: env.logger)
    }

    /// Services whose cloud client is never called (these workflows only use SSH and the inventory).
    package static func services(_ env: Env, ssh: SSHExecutor) -> ClusterServices {
        let cloud = SakuraCloudClient(
            configuration: SakuraCloudConfiguration(
                baseURL: "http://127.0.0.1:9", zone: "is1a",
                credentials: SakuraCloudCredentials(accessToken: "unused", accessTokenSecret: "unused")))
        return ClusterServices(cloud: cloud, ssh: ssh, inventory: ClusterInventory(store: env.store), logger: env.logger)
    }

    /// Makes sure this process has a `KAJI_SECRET_KEY` (the in-process workers store secrets under it): one
    /// generated key, set once unless the environment already has one.
    package static func ensureSecretKey() throws {
        secretKeyLock.withLock { _ in
            if (ProcessInfo.processInfo.environment["KAJI_SECRET_KEY"] ?? "").isEmpty {
                setenv("KAJI_SECRET_KEY", SecretKey.generate().base64, 0)
            }
        }
        _ = try SecretKey.fromEnvironment()
    }

    private static let secretKeyLock = Mutex(())

    /// An SSH executor with a throwaway identity and known-hosts file, for tests that only see it fail.
    package static func throwawaySSH() -> SSHExecutor {
        SSHExecutor(configuration: SSHConfiguration(
            identity: SSHIdentity.generate(), knownHosts: KnownHostsFile(path: FileManager.default.temporaryDirectory.appendingPathComponent("kaji-bk-unused").path)))
    }

    /// A simulated cluster: its own node-tools world, `kubeadm init` on `NAME-master-1` over SSH, a joined
    /// `NAME-worker-1`, and a `ready` inventory record whose nodes point at the test sshd.
    package struct Cluster: Sendable {
        package let name: String
        package let world: String
        package let master: SSHEndpoint
        package let record: ClusterRecord
    }

    package static func seedCluster(_ env: Env, ssh: SSHExecutor, name: String = "bk-\(UUID().uuidString.prefix(6).lowercased())") async throws -> Cluster {
        let world = "wf-backup-\(UUID().uuidString.prefix(8))"
        func node(_ suffix: String, _ role: ClusterNode.Role, _ address: String) -> ClusterNode {
            ClusterNode(name: "\(name)-\(suffix)", role: role, serverID: "1130000000\(address.suffix(2))", address: address,
                        sshHost: "127.0.0.1", sshPort: env.sshdPort, sshUser: "root",
                        sshEnvironment: ["KAJI_SIM_WORLD": world, "KAJI_NODE": "\(name)-\(suffix)"])
        }
        let master = node("master-1", .master, "192.168.100.11")
        let worker = node("worker-1", .worker, "192.168.100.21")
        let masterEndpoint = endpoint(master)
        let initialized = try await ssh.runChecked(
            Kubeadm.initCommand(controlPlaneEndpoint: "192.168.100.10", advertiseAddress: master.address), on: masterEndpoint, deadline: .seconds(30))
        let join = try #require(Kubeadm.parseJoin(initialized.stdout))
        _ = try await ssh.runChecked(Kubeadm.joinCommand(join, asControlPlane: false), on: endpoint(worker), deadline: .seconds(30))
        let spec = ClusterSpec(
            name: name, zone: "is1a", kubernetesVersion: "1.33.2",
            network: .init(subnet: "192.168.100.0/24", controlPlaneVIP: "192.168.100.10", nodeAddressStart: "192.168.100.11",
                           loadBalancerRange: "192.168.100.200-192.168.100.220"),
            masters: .init(replicas: 1, plan: .init(cpu: 2, memoryGB: 4), diskGB: 40),
            workers: .init(replicas: 1, plan: .init(cpu: 2, memoryGB: 4), diskGB: 40),
            owners: .init(team: "sre", sshKeys: []),
            velero: .init(storageLocation: "default", schedule: "0 3 * * *", ttl: "720h0m0s"))
        let record = ClusterRecord(
            name: name, zone: "is1a", spec: spec, state: .ready, switchID: "113000000001", apiEndpoint: "https://192.168.100.10:6443",
            nodes: [master, worker], ownerTeam: "sre", lastRunID: nil, createdAt: Date(), updatedAt: Date())
        try await ClusterInventory(store: env.store).upsert(record)
        return Cluster(name: name, world: world, master: masterEndpoint, record: record)
    }

    package static func endpoint(_ node: ClusterNode) -> SSHEndpoint {
        SSHEndpoint(host: node.sshHost, port: node.sshPort, user: node.sshUser, environment: node.sshEnvironment)
    }

    /// `kaji-sim-node ARGS` on the cluster's master.
    @discardableResult
    package static func simNode(_ ssh: SSHExecutor, _ cluster: Cluster, _ arguments: String) async throws -> String {
        try await ssh.runChecked("kaji-sim-node \(arguments)", on: cluster.master, deadline: .seconds(20)).stdout
    }

    /// What `ps` on the cluster's nodes could have shown: the world's `commands.log` (each session's command
    /// line and each node tool's argv).
    package static func nodeCommandLog(_ cluster: Cluster) throws -> String {
        guard let root = ProcessInfo.processInfo.environment["KAJI_SIM_STATE"], !root.isEmpty else {
            throw SetupError("KAJI_SIM_STATE is not set: start the sshd with scripts/start-sshd.sh")
        }
        let path = "\(root)/\(cluster.world.replacingOccurrences(of: "/", with: "_"))/commands.log"
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    /// The simulated world's state (`kaji-sim-node state`).
    package static func worldState(_ ssh: SSHExecutor, _ cluster: Cluster) async throws -> [String: Any] {
        let text = try await simNode(ssh, cluster, "state")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    package static func startPool(_ env: Env, _ registry: WorkflowRegistry, concurrency: Int = 4) -> PoolHandle {
        env.database.startPool(registry, concurrency: concurrency, pollInterval: .milliseconds(100))
    }

    package static func enqueue(_ env: Env, _ registry: WorkflowRegistry, kind: String, input: some Encodable) async throws -> UUID {
        let json = try KajiJSON.string(input)
        return try await KajiClient(store: env.store, catalog: registry.catalog)
            .enqueue(EnqueueRequest(kind: kind, input: json, actor: "test:backup")).id
    }

    @discardableResult
    package static func waitForFinish(_ env: Env, _ id: UUID, timeout: Duration = .seconds(60)) async throws -> RunDetail {
        try await env.database.waitForFinish(id, timeout: timeout)
        return try #require(try await env.store.runDetail(id: id))
    }

    /// Every row of every table of the test schema, as text (one line per row).
    package static func everyRowAsText(_ env: Env) async throws -> String {
        var tables: [String] = []
        let names = try await env.client.query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(env.config.schema) AND table_type = 'BASE TABLE'",
            logger: env.logger)
        for try await name in names.decode(String.self) { tables.append(name) }
        var text = ""
        for table in tables {
            let quoted = "\"\(env.config.schema.replacingOccurrences(of: "\"", with: "\"\""))\".\"\(table.replacingOccurrences(of: "\"", with: "\"\""))\""
            let rows = try await env.client.query(PostgresQuery(unsafeSQL: "SELECT row_to_json(t)::text FROM \(quoted) t"), logger: env.logger)
            for try await row in rows.decode(String.self) { text += "\(table): \(row)\n" }
        }
        return text
    }

    /// `kaji show RUN --json` from the built executable.
    package static func kajiShowJSON(_ env: Env, _ id: UUID) async throws -> String {
        let result = try await KajiProcess.run(["show", id.uuidString, "--json"] + env.database.cliArguments)
        guard result.status == 0 else { throw SetupError("kaji show exited \(result.status): \(result.stderr)") }
        return result.stdout
    }
}
