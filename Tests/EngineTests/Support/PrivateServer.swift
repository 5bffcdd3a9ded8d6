import Engine
import Foundation
import Logging
import PostgresNIO

/// A PostgreSQL server of one test's own (started by `scripts/start-pg.sh`, as the test suite's shared one
/// is), for tests that restart or crash the server: the shared server stays up for every other test.
final class PrivateServer: Sendable {
    let dir: String
    let url: String
    let bin: String

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    private init(dir: String, url: String, bin: String) {
        self.dir = dir
        self.url = url
        self.bin = bin
    }

    /// Starts a fresh server in a temporary folder.
    static func start() throws -> PrivateServer {
        let dir = "/tmp/kaji-private-pg-\(UUID().uuidString.prefix(8).lowercased())"
        let output = try Self.run("/bin/bash", [repositoryRoot.appendingPathComponent("scripts/start-pg.sh").path, dir])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        guard let url = values["KAJI_TEST_DATABASE_URL"], let bin = values["KAJI_PG_BIN"] else {
            throw TestSetupError("scripts/start-pg.sh printed no URL: \(output)")
        }
        return PrivateServer(dir: dir, url: url, bin: bin)
    }

    /// `pg_ctl restart -m fast`: every connection is cut (57P01), committed work stays.
    func restartFast() throws {
        _ = try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/pg_ctl", "-D", "\(dir)/data", "-w", "-t", "60", "-m", "fast", "restart"])
    }

    /// `pg_ctl stop -m immediate` (a crash: asynchronous commits not yet written are lost), then start again.
    func crashAndStart() throws {
        _ = try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/pg_ctl", "-D", "\(dir)/data", "-w", "-t", "60", "-m", "immediate", "stop"])
        _ = try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(bin)/pg_ctl", "-D", "\(dir)/data", "-w", "-t", "60", "-l", "\(dir)/server.log", "start"])
    }

    func stop() {
        _ = try? Self.run("/bin/bash", [Self.repositoryRoot.appendingPathComponent("scripts/stop-pg.sh").path, dir])
        try? FileManager.default.removeItem(atPath: dir)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-run-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let handle = try FileHandle(forWritingTo: out)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text.suffix(2000))")
        }
        return text
    }
}

extension TestDatabase {
    /// Runs `body` with a migrated schema on a private server of its own, stopped afterwards.
    static func withPrivateServer<T: Sendable>(_ body: @Sendable (TestDatabase, PrivateServer) async throws -> T) async throws -> T {
        let server = try PrivateServer.start()
        defer { server.stop() }
        var config = try DatabaseConfig(url: server.url, schema: "kaji")
        config.applicationName = "kaji-private"
        var logger = Logger(label: "kaji.test")
        logger.logLevel = ProcessInfo.processInfo.environment["KAJI_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        try await Migrator(config: config, logger: logger).migrate()
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let db = TestDatabase(url: server.url, config: config, store: RunStore(client: client, config: config, logger: logger), logger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body(db, server)) } catch { result = .failure(error) }
            group.cancelAll()
            return result
        }
        return try result.get()
    }
}
