import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a test-kit helper could not do.
public struct KajiTestingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A PostgreSQL server of one test's own (started by `scripts/start-pg.sh`, as the test suite's shared one
/// is), for tests that restart or crash the server: the shared server stays up for every other test.
public final class PrivateServer: Sendable {
    public let dir: String
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    public let url: String
    let bin: String

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

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

    /// Runs a program to its end and returns what it printed (stdout and stderr). Spawned and reaped here
    /// with posix_spawn and waitpid: Foundation's Process did not always notice a short-lived child exit
    /// (it stayed a zombie) while other children came and went.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw KajiTestingError("cannot start \(executable): error \(spawned)") }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR { throw KajiTestingError("waitpid for \(executable) failed: errno \(errno)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw KajiTestingError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(text.suffix(2000))")
        }
        return text
    }
}

