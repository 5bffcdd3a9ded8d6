import Engine
import Foundation
import KajiTesting
import Logging
import PostgresNIO
import Testing

// Helpers of the manifest and apply tests. Names carry a `Manifest` prefix so that other suites' helpers in
// this target cannot clash with them.

/// The repository's root (for `examples/`).
enum ManifestRepo {
    static var root: URL { TestEnvironment.repositoryRoot }

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

extension TestDatabase {
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

/// Runs the built `kaji` executable (KAJI_BIN, else .build/debug/kaji) to completion, logging errors only.
enum ManifestCLI {
    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await KajiProcess.run(arguments, environment: ["KAJI_LOG_LEVEL": "error"], timeout: timeout)
    }
}
