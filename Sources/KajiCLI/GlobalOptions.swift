import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO

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
    static func registry() -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        registry.register(DiagWorkflow())
        registry.register(DiagSecretWorkflow())
        return registry
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
