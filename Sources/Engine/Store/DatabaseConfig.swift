import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// Where Kaji's tables live: a PostgreSQL server, a database and a schema.
///
/// Read from a URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=S&host=/socket/dir&sslmode=M&sslrootcert=FILE]`
/// (port 5432, user `postgres`, database `postgres`, schema `kaji` and sslmode `prefer` by default).
public struct DatabaseConfig: Sendable {
    /// How TLS is used on TCP connections, as libpq's `sslmode` (see `DatabaseConfig.SSLMode`).
    public var sslMode: SSLMode = .prefer
    /// PEM file of the certificate authorities a server certificate must chain to (`sslrootcert`); for
    /// `verify-ca` and `verify-full`. Nil (or `system`) means the system's trust store.
    public var sslRootCert: String?

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
            throw KajiError(.invalidArgument, "databaseURL must look like postgres://USER@HOST:PORT/DATABASE (got a value that does not start with postgres://)", field: "databaseURL")
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
            case "sslmode":
                guard let value = item.value, let mode = SSLMode(rawValue: value) else {
                    throw KajiError(.invalidArgument, "databaseURL sslmode '\(item.value ?? "")' is not supported: use disable, prefer (the default), require, verify-ca or verify-full", field: "databaseURL")
                }
                self.sslMode = mode
            case "sslrootcert":
                if let v = item.value, !v.isEmpty { self.sslRootCert = v }
            case "application_name", "connect_timeout": break
            default:
                throw KajiError(.invalidArgument, "databaseURL has an unknown parameter '\(item.name)' (known: schema, host, sslmode, sslrootcert)", field: "databaseURL")
            }
        }
        if let schema { self.schema = schema }
        try Self.validate(schema: self.schema)
        try checkTLS()
    }

    /// libpq's `sslmode` values Kaji honours. TLS is used on TCP only; a unix socket is never encrypted.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain connections only.
        case disable
        /// TLS when the server offers it, else plain (libpq's default; the certificate is not checked).
        case prefer
        /// TLS or no connection; the certificate is not checked (as libpq, it is checked against
        /// `sslrootcert` when one is given, like `verify-ca`).
        case require
        /// TLS, with a certificate that chains to `sslrootcert` (or the system's trust store).
        case verifyCA = "verify-ca"
        /// As `verify-ca`, and the certificate must name the host connected to (DNS name or IP address).
        case verifyFull = "verify-full"
    }

    /// Refuses settings that can never be met, naming the part of the URL that is wrong.
    func checkTLS() throws {
        if socketDirectory != nil, sslMode != .disable, sslMode != .prefer {
            throw KajiError(.invalidArgument, "databaseURL sslmode=\(sslMode.rawValue) cannot be met over a unix socket (host=\(socketDirectory ?? "")): TLS is for TCP; connect by host and port, or use sslmode=prefer or disable", field: "databaseURL")
        }
        if let file = sslRootCert, file != "system" {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw KajiError(.invalidArgument, "databaseURL sslrootcert '\(file)' is not a readable file (a PEM file of the certificate authorities to trust)", field: "databaseURL")
            }
            do {
                _ = try NIOSSLCertificate.fromPEMFile(file)
            } catch {
                throw KajiError(.invalidArgument, "databaseURL sslrootcert '\(file)' holds no PEM certificate: \(error)", field: "databaseURL")
            }
        }
    }

    /// The TLS settings for postgres-nio, or nil for none (`disable`, or a unix socket).
    var tlsConfiguration: TLSConfiguration? {
        guard socketDirectory == nil, sslMode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        let rootCert = sslRootCert.flatMap { $0 == "system" ? nil : $0 }
        switch sslMode {
        case .disable, .prefer:
            tls.certificateVerification = .none
        case .require:
            tls.certificateVerification = rootCert == nil ? .none : .noHostnameVerification
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        if let rootCert, tls.certificateVerification != .none { tls.trustRoots = .file(rootCert) }
        return tls
    }

    /// Whether a plain connection is acceptable when the server has no TLS.
    var tlsIsOptional: Bool { sslMode == .prefer }

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
        let tls = socketDirectory == nil && sslMode != .prefer ? ", sslmode \(sslMode.rawValue)" : ""
        return "postgres://\(username)@\(target)/\(database) (schema \(schema)\(tls))"
    }

    /// The pool configuration, with `search_path` set to the schema on every connection.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS = tlsConfiguration.map { tlsIsOptional ? .prefer($0) : .require($0) } ?? .disable
            config = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        config.options.additionalStartupParameters = [("search_path", schema), ("application_name", applicationName)]
        config.options.maximumConnections = maxConnections
        config.options.connectTimeout = .seconds(Self.connectTimeoutSeconds)
        return config
    }

    /// A single-connection configuration (LISTEN, migrations, reachability checks).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            var tls: PostgresConnection.Configuration.TLS = .disable
            if let settings = tlsConfiguration {
                let context = try NIOSSLContext(configuration: settings)
                tls = tlsIsOptional ? .prefer(context) : .require(context)
            }
            config = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        config.options.additionalStartupParameters = [("search_path", schema), ("application_name", applicationName)]
        config.options.connectTimeout = .seconds(Self.connectTimeoutSeconds)
        return config
    }

    /// Opens one connection, failing within seconds when the server is unreachable or refuses us
    /// (a pooled client would retry silently for a long time instead).
    public func connect(logger: Logger) async throws -> PostgresConnection {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try connectionConfiguration()
        } catch {
            throw KajiError(.invalidArgument, "databaseURL sslmode=\(sslMode.rawValue): the TLS settings cannot be used: \(error)", field: "databaseURL")
        }
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: Int.random(in: 1...Int(Int32.max)), logger: logger)
        } catch {
            throw KajiError(.databaseUnavailable, "cannot connect to \(redacted): \(describeConnectError(error))")
        }
    }

    /// Why a connection failed, in terms of the URL's TLS settings when TLS is what failed.
    func describeConnectError(_ error: any Error) -> String {
        if let psql = error as? PSQLError, psql.code == .sslUnsupported {
            return "the server does not offer TLS, but sslmode=\(sslMode.rawValue) requires it (turn ssl on at the server, or use sslmode=prefer or disable)"
        }
        let underlying = (error as? PSQLError)?.underlying ?? error
        if underlying is NIOSSLError || underlying is BoringSSLError || underlying is NIOSSLExtraError {
            let roots = sslRootCert.map { "sslrootcert \($0)" } ?? "the system's trust store"
            let detail = String(describing: underlying)
            let why: String
            if detail.contains("CERTIFICATE_VERIFY_FAILED") {
                why = "the server's certificate does not chain to a trusted CA"
            } else if detail.contains("failedToValidateHostname") {
                why = "the server's certificate does not name \(host)"
            } else {
                why = "the server's certificate was not accepted"
            }
            return "TLS handshake failed (sslmode=\(sslMode.rawValue), trusting \(roots)): \(why) [\(detail)]"
        }
        return Self.describe(error)
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

    /// How long a connection attempt (TCP and, with TLS, the handshake) may take: 10 s, postgres-nio's
    /// default, so that a loaded machine is not taken for an unreachable server (a refused or unknown
    /// address still fails at once).
    static let connectTimeoutSeconds: Int64 = 10

    /// The NOTIFY channel on which enqueues announce new work in this schema.
    public var notifyChannel: String { "kaji_\(schema)_runs" }
}
