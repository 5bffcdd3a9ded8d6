import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO
import Provisioner
import Workflows

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "PostgreSQL URL, postgres://USER@HOST:PORT/DATABASE (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .long, help: "Schema holding Kaji's tables (default: $KAJI_SCHEMA, else the URL's ?schema=, else kaji).")
    var schema: String?

    @Flag(name: .long, help: "Print machine-readable JSON (see README, \"JSON output\").")
    var json = false

    func databaseConfig() throws -> DatabaseConfig {
        let env = ProcessInfo.processInfo.environment
        guard let url = databaseURL ?? env["DATABASE_URL"], !url.isEmpty else {
            throw KajiError(.invalidArgument, "no database: pass --database-url postgres://USER@HOST:PORT/DATABASE or set DATABASE_URL")
        }
        let schema = self.schema ?? env["KAJI_SCHEMA"].flatMap { $0.isEmpty ? nil : $0 }
        return try DatabaseConfig(url: url, schema: schema)
    }
}

enum CLILogging {
    /// Logs to stderr at `KAJI_LOG_LEVEL` (default: `defaultLevel`).
    static func bootstrap(defaultLevel: Logger.Level) {
        let level = ProcessInfo.processInfo.environment["KAJI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static func logger(_ label: String = "kaji") -> Logger { Logger(label: label) }
}

/// The workflows this build knows.
enum BuiltinWorkflows {
    /// The workflows this build knows: the diagnostics and the cluster operations.
    ///
    /// With a store and an environment that configures the cloud and Kaji's SSH key (see
    /// `ClusterWorkerEnvironment`), the cluster workflows get working services, as a worker needs. Otherwise
    /// they are registered with services that are never called, so that commands can still check inputs and
    /// know which kinds have undo steps (`kaji cancel` runs them).
    ///
    /// A worker passes `forWorker: true`: without that configuration it leaves the cluster workflows out, and
    /// since workers claim only kinds they know, cluster runs wait for a worker that can run them.
    static func registry(store: RunStore? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                         logger: Logger = CLILogging.logger(), forWorker: Bool = false) throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        registry.register(DiagWorkflow())
        registry.register(DiagSecretWorkflow())
        let configured = try store.flatMap { try ClusterWorkerEnvironment.load(environment, store: $0, logger: logger) }
        if forWorker && configured == nil { return registry }
        let services = configured?.services ?? offlineClusterServices(store: store, logger: logger)
        registerClusterWorkflows(into: &registry, services: services, settings: configured?.settings ?? ClusterWorkflowSettings())
        registerBackupWorkflows(into: &registry, services: services)
        return registry
    }

    /// Services for registering the cluster workflows where they will not run (input checks, `kaji cancel`).
    private static func offlineClusterServices(store: RunStore?, logger: Logger) -> ClusterServices {
        let cloud = SakuraCloudClient(configuration: SakuraCloudConfiguration(
            baseURL: "https://secure.sakura.ad.jp", zone: "is1a",
            credentials: SakuraCloudCredentials(accessToken: "unset", accessTokenSecret: "unset")), logger: logger)
        let ssh = SSHExecutor(configuration: SSHConfiguration(identity: SSHIdentity.generate(), knownHosts: KnownHostsFile(path: "/dev/null")), logger: logger)
        let inventory = store.map { ClusterInventory(store: $0) }
            ?? ClusterInventory(client: PostgresClient(configuration: .init(host: "127.0.0.1", username: "unused", password: nil, database: nil, tls: .disable),
                                                       backgroundLogger: logger), logger: logger)
        return ClusterServices(cloud: cloud, ssh: ssh, inventory: inventory, logger: logger)
    }
}

extension DatabaseConfig {
    /// Runs `body` with a connected store; fails within seconds if the database is unreachable.
    func withStore<T: Sendable>(logger: Logger, _ body: @Sendable (RunStore) async throws -> T) async throws -> T {
        try await checkReachable(logger: logger)
        // The pool logs a harmless start-up race at warning level; one-shot commands keep it quiet.
        var logger = logger
        logger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: clientConfiguration(), backgroundLogger: logger)
        let store = RunStore(client: client, config: self, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            do {
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
