import Engine
import Foundation
import Logging
import PostgresNIO
import Testing

// Helpers of the manifest and apply tests. Names carry a `Manifest` prefix so that other suites' helpers in
// this target cannot clash with them.

struct ManifestTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The repository's root (for `examples/`).
enum ManifestRepo {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func example(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent("examples/\(name)"), encoding: .utf8)
    }

    /// Writes `text` to a fresh temporary file and returns its path.
    static func writeTemp(_ text: String, name: String = "cluster.yaml") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A migrated schema of its own on the test PostgreSQL (KAJI_TEST_DATABASE_URL), dropped at the end.
struct ManifestTestDB: Sendable {
    let url: String
    let config: DatabaseConfig
    let store: RunStore

    /// `--database-url URL --schema S` for a `kaji` process working on this schema.
    var cliArguments: [String] { ["--database-url", url, "--schema", config.schema] }

    static func with<T: Sendable>(_ body: @Sendable (ManifestTestDB) async throws -> T) async throws -> T {
        guard let url = ProcessInfo.processInfo.environment["KAJI_TEST_DATABASE_URL"], !url.isEmpty else {
            throw ManifestTestError("KAJI_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a private PostgreSQL")
        }
        let config = try DatabaseConfig(url: url, schema: "t_manifest_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        var logger = Logger(label: "kaji.test.manifest")
        logger.logLevel = .critical
        let migrator = Migrator(config: config, logger: logger)
        try await migrator.migrate()
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let db = ManifestTestDB(url: url, config: config, store: RunStore(client: client, config: config, logger: logger))
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body(db)) } catch { result = .failure(error) }
            group.cancelAll()
            return result
        }
        try? await migrator.dropSchema()
        return try result.get()
    }

    /// The number of rows in `runs`.
    func runCount() async throws -> Int {
        for try await n in try await store.client.query("SELECT count(*)::int FROM runs", logger: store.logger).decode(Int.self) { return n }
        return 0
    }

    /// Every run as (kind, concurrency key, idempotency key, input JSON).
    func runs() async throws -> [(kind: String, concurrencyKey: String?, idempotencyKey: String?, input: String)] {
        var result: [(String, String?, String?, String)] = []
        let rows = try await store.client.query("""
            SELECT r.kind, r.concurrency_key, r.idempotency_key, p.input::text FROM runs r JOIN run_payloads p ON p.run_id = r.id ORDER BY r.id
            """, logger: store.logger)
        for try await row in rows.decode((String, String?, String?, String).self) { result.append(row) }
        return result.map { (kind: $0.0, concurrencyKey: $0.1, idempotencyKey: $0.2, input: $0.3) }
    }
}

/// The result of a finished `kaji` command.
struct ManifestCLIResult: Sendable, CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String

    var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Runs the built `kaji` executable (KAJI_BIN, else .build/debug/kaji) to completion.
enum ManifestCLI {
    static var binary: String {
        get throws {
            if let path = ProcessInfo.processInfo.environment["KAJI_BIN"], FileManager.default.isExecutableFile(atPath: path) { return path }
            let candidate = ManifestRepo.root.appendingPathComponent(".build/debug/kaji").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw ManifestTestError("the kaji executable was not found: set KAJI_BIN or build it (swift build --build-tests)")
            }
            return candidate
        }
    }

    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ManifestCLIResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["KAJI_LOG_LEVEL"] = "error"
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw ManifestTestError("kaji \(arguments.joined(separator: " ")) did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return ManifestCLIResult(status: process.terminationStatus,
                                 stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                                 stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
