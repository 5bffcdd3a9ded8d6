import Engine
import Foundation
import KajiTesting
import Logging
import PostgresNIO
import Testing

/// `sslmode` in the database URL against the suite's plain server, and bad settings (the TLS server's tests, with
/// `kaji` processes, are ProcessTests' DatabaseTLSProcessTests).
@Suite("TLS to PostgreSQL: sslmode and sslrootcert", .serialized, .timeLimit(.minutes(3)))
struct DatabaseTLSTests {
    @Test("require against a server without TLS fails clearly; prefer falls back to a plain connection", .needsDatabase)
    func plainServer() async throws {
        let url = try TestDatabase.baseURL
        await DatabaseTLSProbe.expectRefused(url + "?sslmode=require", ["does not offer TLS", "sslmode=require"])
        await DatabaseTLSProbe.expectRefused(url + "?sslmode=verify-full", ["does not offer TLS"])
        #expect(!(try await DatabaseTLSProbe.encrypted(url + "?sslmode=prefer")))
        #expect(!(try await DatabaseTLSProbe.encrypted(url)))
    }

    @Test("bad TLS settings in the URL are refused before connecting, naming the part that is wrong")
    func badSettings() throws {
        for (url, phrase) in [
            ("postgres://u@127.0.0.1/db?sslmode=sometimes", "sslmode 'sometimes'"),
            ("postgres://u@127.0.0.1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "sslrootcert '/nonexistent/ca.crt'"),
            ("postgres://u@127.0.0.1/db?sslmode=require&host=/var/run/postgresql", "unix socket"),
        ] {
            do {
                _ = try DatabaseConfig(url: url)
                Issue.record("accepted \(url)")
            } catch let error as KajiError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(phrase), "\(error.message)")
            }
        }
    }
}
