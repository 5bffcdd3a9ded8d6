import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Where Kaji's tables live: a PostgreSQL server, a database and a schema.
///
/// Read from a URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=S&host=/socket/dir]`
/// (port 5432, user `postgres`, database `postgres` and schema `kaji` by default).
public struct DatabaseConfig: Sendable {
    public var host: String
    public var port: Int
    /// A directory holding the server's unix socket; when set, it is used instead of TCP.
    public var socketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    /// The schema that holds Kaji's tables (default `kaji`). Tests and benchmarks use one schema each.
    public var schema: String
    /// Most connections the pool opens (default 20).
    public var maxConnections: Int = 20
    /// The `application_name` of every connection (default `kaji`), as `pg_stat_activity` shows it.
    public var applicationName: String = "kaji"

    public init(host: String = "127.0.0.1", port: Int = 5432, socketDirectory: String? = nil, username: String = "postgres", password: String? = nil, database: String = "postgres", schema: String = "kaji") {
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.username = username
        self.password = password
        self.database = database
        self.schema = schema
    }

    /// Parses a `postgres://` URL. Errors name the part that is wrong; they never repeat the password.
    public init(url text: String, schema: String? = nil) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw KajiError(.invalidArgument, "--database-url must look like postgres://USER@HOST:PORT/DATABASE (got a value that does not start with postgres://)")
        }
        self.init()
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port { self.port = port }
        if let user = components.user, !user.isEmpty { self.username = user.removingPercentEncoding ?? user }
        self.password = components.password?.removingPercentEncoding
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty { self.database = path }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "schema": if let v = item.value { self.schema = v }
            case "host": if let v = item.value, v.hasPrefix("/") { self.socketDirectory = v }
            case "sslmode", "application_name", "connect_timeout": break
            default:
                throw KajiError(.invalidArgument, "--database-url has an unknown parameter '\(item.name)' (known: schema, host, sslmode)")
            }
        }
        if let schema { self.schema = schema }
        try Self.validate(schema: self.schema)
    }

    /// Checks that a schema name is a plain identifier (it is quoted into DDL, never bound).
    public static func validate(schema: String) throws {
        let ok = !schema.isEmpty && schema.count <= 40
            && schema.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !(schema.first?.isNumber ?? true)
        guard ok else {
            throw KajiError(.invalidArgument, "schema '\(schema)' is not valid: use 1-40 characters of a-z, 0-9 and _, not starting with a digit")
        }
    }

    /// The connection description, without the password.
    public var redacted: String {
        let target = socketDirectory.map { "socket \($0)/.s.PGSQL.\(port)" } ?? "\(host):\(port)"
        return "postgres://\(username)@\(target)/\(database) (schema \(schema))"
    }

    /// The pool configuration, with `search_path` set to the schema on every connection.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        }
        config.options.additionalStartupParameters = [("search_path", schema), ("application_name", applicationName)]
        config.options.maximumConnections = maxConnections
        config.options.connectTimeout = .seconds(10)
        return config
    }

    /// A single-connection configuration (LISTEN, migrations, reachability checks).
    public func connectionConfiguration() -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        }
        config.options.additionalStartupParameters = [("search_path", schema), ("application_name", applicationName)]
        config.options.connectTimeout = .seconds(10)
        return config
    }

    /// Opens one connection, failing within seconds when the server is unreachable or refuses us
    /// (a pooled client would retry silently for a long time instead).
    public func connect(logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: connectionConfiguration(), id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        } catch {
            throw KajiError(.databaseUnavailable, "cannot connect to \(redacted): \(Self.describe(error))")
        }
    }

    /// Fails fast when the database cannot be reached.
    public func checkReachable(logger: Logger) async throws {
        let connection = try await connect(logger: logger)
        try? await connection.close()
    }

    /// A short description of a database error: the server's message when there is one.
    public static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                let code = psql.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + code
            }
            if let underlying = psql.underlying { return String(describing: underlying) }
            return "\(psql.code)"
        }
        return String(describing: error)
    }

    /// The NOTIFY channel on which enqueues announce new work in this schema.
    public var notifyChannel: String { "kaji_\(schema)_runs" }
}
