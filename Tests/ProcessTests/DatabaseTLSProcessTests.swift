import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// `sslmode` in the database URL against a private PostgreSQL started here with ssl on (a throwaway CA and
/// server certificate, scripts/start-pg.sh --tls), in this process and in `kaji` processes (moved from
/// EngineTests' DatabaseTLSTests).
@Suite("TLS to PostgreSQL: a server with ssl on, and kaji processes", .serialized, .timeLimit(.minutes(3)))
struct DatabaseTLSProcessTests {
    static var repoRoot: URL { TestEnvironment.repositoryRoot }

    /// Runs a shell command line, failing on a non-zero exit; returns its stdout. Output goes through files,
    /// not pipes: a server the command starts must not hold our end open.
    @discardableResult
    static func shell(_ command: String) async throws -> String {
        // Every inherited descriptor above stderr is closed first: a server the command leaves running must
        // not keep one of ours open.
        let script = #"for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done 2>/dev/null; "# + command
        let result = try await ChildProcess.run("/bin/bash", ["-c", script], timeout: .seconds(120))
        guard result.status == 0 else {
            throw KajiTestingError("`\(command)` exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// A PostgreSQL with ssl on: its base URL and the CA file that signed its certificate.
    struct TLSServer: Sendable {
        let url: String
        let ca: String
        let directory: String
    }

    static func withTLSServer<T: Sendable>(_ body: @Sendable (TLSServer) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-pgtls-\(UUID().uuidString.prefix(8))").path
        let exports = try await shell("\(repoRoot.path)/scripts/start-pg.sh \(directory) --tls")
        var values: [String: String] = [:]
        for line in exports.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        let result: Result<T, any Error>
        do {
            guard let url = values["KAJI_TEST_DATABASE_URL"], let ca = values["KAJI_PG_TLS_CA"] else {
                throw KajiTestingError("start-pg.sh --tls printed no URL or CA: \(exports)")
            }
            result = .success(try await body(TLSServer(url: url, ca: ca, directory: directory)))
        } catch {
            result = .failure(error)
        }
        _ = try? await shell("\(repoRoot.path)/scripts/stop-pg.sh \(directory)")
        return try result.get()
    }

    /// A second, unrelated CA: a server certificate must not chain to it.
    static func otherCA(in directory: String) async throws -> String {
        let path = directory + "-other-ca.crt"
        try await shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=kaji unrelated CA' -keyout \(path).key -out \(path) >/dev/null 2>&1")
        return path
    }

    @Test("require and verify-full with the right CA connect encrypted; prefer (the default) encrypts when it can", .needsDatabase)
    func tlsServerAccepts() async throws {
        try await Self.withTLSServer { server in
            #expect(try await DatabaseTLSProbe.encrypted(server.url + "?sslmode=require"))
            #expect(try await DatabaseTLSProbe.encrypted(server.url + "?sslmode=verify-full&sslrootcert=\(server.ca)"))
            #expect(try await DatabaseTLSProbe.encrypted(server.url + "?sslmode=verify-ca&sslrootcert=\(server.ca)"))
            #expect(try await DatabaseTLSProbe.encrypted(server.url), "prefer is the default")
            #expect(try DatabaseConfig(url: server.url).sslMode == .prefer)
            #expect(!(try await DatabaseTLSProbe.encrypted(server.url + "?sslmode=disable")))

            // The pool and a real kaji process take the same settings.
            let url = server.url + "?sslmode=verify-full&sslrootcert=\(server.ca)"
            let migrate = try await KajiProcess.run(["migrate", "--database-url", url, "--schema", "tls_check"])
            #expect(migrate.status == 0, "stderr: \(migrate.stderr)")
            let runs = try await KajiProcess.run(["runs", "--json", "--database-url", url, "--schema", "tls_check"])
            #expect(runs.status == 0, "stderr: \(runs.stderr)")
            let config = try DatabaseConfig(url: url, schema: "tls_check")
            let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: DatabaseTLSProbe.logger)
            let ssl = try await withThrowingTaskGroup(of: Bool?.self) { group in
                group.addTask { await client.run(); return nil }
                defer { group.cancelAll() }
                for try await ssl in try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: DatabaseTLSProbe.logger).decode(Bool.self) {
                    return ssl
                }
                return false
            }
            #expect(ssl, "the pool's connections are encrypted")
        }
    }

    @Test("verify-full with the wrong CA fails clearly, naming the TLS settings; so does a CLI command, exit 1", .needsDatabase)
    func wrongCARefused() async throws {
        try await Self.withTLSServer { server in
            let other = try await Self.otherCA(in: server.directory)
            defer { try? FileManager.default.removeItem(atPath: other); try? FileManager.default.removeItem(atPath: other + ".key") }
            await DatabaseTLSProbe.expectRefused(server.url + "?sslmode=verify-full&sslrootcert=\(other)",
                                     ["cannot connect to", "sslmode verify-full", "TLS handshake failed", "sslrootcert \(other)", "does not chain to a trusted CA"])
            let cli = try await KajiProcess.run(["runs", "--database-url", server.url + "?sslmode=verify-full&sslrootcert=\(other)"])
            #expect(cli.status == 1)
            #expect(cli.stderr.contains("TLS handshake failed"), "\(cli.stderr)")
        }
    }
}
