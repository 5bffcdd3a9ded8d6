import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO
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
    /// The catalog every command checks requests against: the diagnostics and the cluster operations. No
    /// service is built for it.
    static let catalog = WorkflowCatalog.kaji

    /// The workflows a worker runs, bound to their services. The cluster workflows are registered only when
    /// the environment configures the cloud and Kaji's SSH key (see `ClusterWorkerEnvironment`); without
    /// that the worker leaves them out, and since workers claim only kinds they know, cluster runs wait for
    /// a worker that can run them.
    static func workerRegistry(database: PostgresClient, environment: [String: String], logger: Logger) throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        registry.register(DiagWorkflow())
        registry.register(DiagSecretWorkflow())
        guard let configured = try ClusterWorkerEnvironment.load(environment, database: database, logger: logger) else { return registry }
        registerClusterWorkflows(into: &registry, services: configured.services, settings: configured.settings)
        registerBackupWorkflows(into: &registry, services: configured.services)
        return registry
    }
}

extension DatabaseConfig {
    /// Runs `body` with a `KajiClient` on this database and the builtin catalog; fails within seconds if the
    /// database is unreachable.
    func withClient<T: Sendable>(logger: Logger = CLILogging.logger(), _ body: @Sendable (KajiClient) async throws -> T) async throws -> T {
        try await KajiClient.withConnection(self, catalog: BuiltinWorkflows.catalog, logger: logger, body)
    }

    /// Runs `body` with the cluster service on this database.
    func withClusters<T: Sendable>(logger: Logger = CLILogging.logger(), _ body: @Sendable (ClusterService) async throws -> T) async throws -> T {
        try await withClient(logger: logger) { client in try await body(ClusterService(client: client)) }
    }
}
