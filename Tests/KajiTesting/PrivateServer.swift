import Foundation

/// A PostgreSQL server of one test's own (started by `scripts/start-pg.sh`, as the test suite's shared one
/// is), for tests that restart or crash the server: the shared server stays up for every other test.
public final class PrivateServer: Sendable {
    public let dir: String
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    public let url: String
    let bin: String

    static var repositoryRoot: URL { TestEnvironment.repositoryRoot }

    private init(dir: String, url: String, bin: String) {
        self.dir = dir
        self.url = url
        self.bin = bin
    }

    /// Starts a fresh server in a temporary folder.
    public static func start() async throws -> PrivateServer {
        let dir = "/tmp/kaji-private-pg-\(UUID().uuidString.prefix(8).lowercased())"
        let output = try await Self.run("/bin/bash", [repositoryRoot.appendingPathComponent("scripts/start-pg.sh").path, dir])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        guard let url = values["KAJI_TEST_DATABASE_URL"], let bin = values["KAJI_PG_BIN"] else {
            throw KajiTestingError("scripts/start-pg.sh printed no URL: \(output)")
        }
        return PrivateServer(dir: dir, url: url, bin: bin)
    }

    /// `pg_ctl restart -m fast`: every connection is cut (57P01), committed work stays.
    public func restartFast() async throws {
        _ = try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/pg_ctl", "-D", "\(dir)/data", "-w", "-t", "60", "-m", "fast", "restart"])
    }

    /// `pg_ctl restart -m immediate`: a crash (asynchronous commits not yet written are lost), then the
    /// server starts again with the same options and recovers.
    public func crashAndStart() async throws {
        _ = try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/pg_ctl", "-D", "\(dir)/data", "-w", "-t", "60", "-m", "immediate", "restart"])
    }

    public func stop() async {
        _ = try? await Self.run("/bin/bash", [Self.repositoryRoot.appendingPathComponent("scripts/stop-pg.sh").path, dir])
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs a program to its end and returns what it printed (stdout, then stderr); throws when it fails.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let result = try await ChildProcess.run(executable, arguments, timeout: .seconds(300))
        let text = result.stdout + result.stderr
        guard result.status == 0 else {
            throw KajiTestingError("\(executable) \(arguments.joined(separator: " ")) failed (status \(result.status)): \(text.suffix(2000))")
        }
        return text
    }
}

