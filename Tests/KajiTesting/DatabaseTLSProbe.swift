import Engine
import Foundation
import Logging
import PostgresNIO
import Testing

/// Probes of a database URL's TLS settings (EngineTests' DatabaseTLSTests, ProcessTests' DatabaseTLSProcessTests).
package enum DatabaseTLSProbe {
    package static var logger: Logger {
        var logger = Logger(label: "kaji.test.tls")
        logger.logLevel = .critical
        return logger
    }

    /// Connects with `url` and says whether the session is encrypted (from pg_stat_ssl).
    package static func encrypted(_ url: String) async throws -> Bool {
        let config = try DatabaseConfig(url: url)
        let connection = try await config.connect(logger: logger)
        defer { Task { try? await connection.close() } }
        for try await ssl in try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger).decode(Bool.self) {
            return ssl
        }
        throw KajiTestingError("pg_stat_ssl has no row for this session")
    }

    /// Expects the connection to fail with a `KajiError` whose message contains every one of `phrases`.
    package static func expectRefused(_ url: String, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            _ = try await encrypted(url)
            Issue.record("connected with \(url)", sourceLocation: sourceLocation)
        } catch let error as KajiError {
            for phrase in phrases {
                #expect(error.message.contains(phrase), "\(error.message)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("not a KajiError: \(error)", sourceLocation: sourceLocation)
        }
    }
}
