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

    @Option(name: .long, help: "Work through kaji serve at this http(s) URL instead of the database, e.g. http://127.0.0.1:8080 (default: $KAJI_SERVER).")
    var server: String?

    @Option(name: .long, help: "The API token for --server (default: $KAJI_TOKEN, which keeps it out of the process list).")
    var token: String?

    @Flag(name: .long, help: "Print machine-readable JSON (see README, \"JSON output\").")
    var json = false

    /// Where a command goes: a `kaji serve` (`--server`, else `KAJI_SERVER` unless `--database-url` is
    /// given) or the database.
    enum Target {
        case database(DatabaseConfig)
        case server(url: String, token: String)
    }

    /// The database, for the commands that work on it directly (migrate, worker, serve, bench, demo,
    /// secret rekey): `--server` is refused there; `KAJI_SERVER` is ignored.
    func databaseConfig() throws -> DatabaseConfig {
        if server != nil {
            throw KajiError(.invalidArgument, "--server is not taken by this command: it works on the database (pass --database-url or set DATABASE_URL)")
        }
        return try database()
    }

    private func database() throws -> DatabaseConfig {
        let env = ProcessInfo.processInfo.environment
        guard let url = databaseURL ?? env["DATABASE_URL"], !url.isEmpty else {
            throw KajiError(.invalidArgument, "no database: pass --database-url postgres://USER@HOST:PORT/DATABASE or set DATABASE_URL (or work through kaji serve: --server URL, or KAJI_SERVER and KAJI_TOKEN)")
        }
        let schema = self.schema ?? env["KAJI_SCHEMA"].flatMap { $0.isEmpty ? nil : $0 }
        return try DatabaseConfig(url: url, schema: schema)
    }

    /// The command's target: `--server` (with `--token` or `KAJI_TOKEN`), else `--database-url`, else
    /// `KAJI_SERVER`, else `DATABASE_URL`.
    func target() throws -> Target {
        let env = ProcessInfo.processInfo.environment
        if server != nil, databaseURL != nil {
            throw KajiError(.invalidArgument, "--server and --database-url both given: a command works through kaji serve or on the database, not both")
        }
        let fromFlag = server != nil
        guard let url = server ?? (databaseURL == nil ? env["KAJI_SERVER"].flatMap { $0.isEmpty ? nil : $0 } : nil) else {
            return .database(try database())
        }
        let name = fromFlag ? "--server" : "KAJI_SERVER"
        let base = try Self.serverURL(url, name: name)
        if schema != nil {
            throw KajiError(.invalidArgument, "--schema is not taken with \(name): the server works on its own schema")
        }
        guard let token = token ?? env["KAJI_TOKEN"], !token.isEmpty else {
            throw KajiError(.invalidArgument, "no token for \(name): pass --token or set KAJI_TOKEN (an admin makes one with kaji token create NAME --role ROLE)")
        }
        guard !token.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw KajiError(.invalidArgument, "the token (--token or KAJI_TOKEN) holds a line break or NUL: give the token as kaji token create printed it")
        }
        return .server(url: base, token: token)
    }

    /// Checks a server URL: http or https, a host, no user or password, nothing after the path; returns it
    /// without a trailing slash. Errors name `name` (`--server` or `KAJI_SERVER`).
    static func serverURL(_ text: String, name: String) throws -> String {
        let example = "e.g. http://127.0.0.1:8080"
        // A token given here by mistake is not repeated.
        let shown = text.contains(KajiClient.tokenPrefix) ? "(not shown)" : "'\(text.prefix(200))'"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw KajiError(.invalidArgument, "\(name) \(shown) is not an http:// or https:// URL (\(example))")
        }
        guard components.user == nil, components.password == nil else {
            // Not repeated: it holds a password.
            throw KajiError(.invalidArgument, "\(name) must not carry a user or password: the token goes in --token or KAJI_TOKEN")
        }
        guard let host = components.host, !host.isEmpty else {
            throw KajiError(.invalidArgument, "\(name) \(shown) names no host (\(example))")
        }
        guard components.query == nil, components.fragment == nil else {
            throw KajiError(.invalidArgument, "\(name) \(shown) must not have a query or fragment (\(example))")
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// Runs `body` with the backend the options and environment choose (see `target`).
    func withBackend<T: Sendable>(logger: Logger = CLILogging.logger(), _ body: @Sendable (any KajiBackend) async throws -> T) async throws -> T {
        switch try target() {
        case .database(let config):
            let actor = KajiClient.cliActor()
            return try await config.withClient(logger: logger) { client in
                try await body(LocalBackend(client: client, config: config, logger: logger, actor: actor))
            }
        case .server(let url, let token):
            return try await RemoteBackend.with(server: url, token: token) { backend in try await body(backend) }
        }
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
