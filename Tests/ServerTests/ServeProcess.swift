import AsyncHTTPClient
import Engine
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

struct ServerTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A migrated schema of its own on the test PostgreSQL (KAJI_TEST_DATABASE_URL) and a `kaji serve`
/// process on it, on a free loopback port. Both go away when the test ends.
struct ServeFixture: Sendable {
    let databaseURL: String
    let config: DatabaseConfig
    let client: KajiClient
    let baseURL: String

    /// Runs `body` with a fresh schema and a `kaji serve --listen 127.0.0.1:0` on it.
    static func with<T: Sendable>(environment: [String: String] = [:], catalog: WorkflowCatalog = .diagnostics,
                                  _ body: @Sendable (ServeFixture) async throws -> T) async throws -> T {
        guard let url = ProcessInfo.processInfo.environment["KAJI_TEST_DATABASE_URL"], !url.isEmpty else {
            throw ServerTestError("KAJI_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a private PostgreSQL")
        }
        let config = try DatabaseConfig(url: url, schema: "s_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        var logger = Logger(label: "kaji.server-test")
        logger.logLevel = .critical
        let migrator = Migrator(config: config, logger: logger)
        try await migrator.migrate()
        let postgres = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let client = KajiClient(postgres: postgres, config: config, catalog: catalog, logger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await postgres.run() }
            let result: Result<T, any Error>
            do {
                let server = try ServeProcess(["serve", "--listen", "127.0.0.1:0", "--database-url", url, "--schema", config.schema], environment: environment)
                defer { server.stop() }
                let base = try await server.waitForURL()
                result = .success(try await body(ServeFixture(databaseURL: url, config: config, client: client, baseURL: base)))
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            return result
        }
        try? await migrator.dropSchema()
        return try result.get()
    }

    /// A token of `role` named `name`, made through the client (as `kaji token create` does).
    func token(_ name: String, _ role: APIRole, expiresAt: Date? = nil) async throws -> String {
        try await client.createToken(name: name, role: role, expiresAt: expiresAt, actor: "test").token
    }

    /// One HTTP request; returns status and body text.
    func call(_ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil,
              contentType: String? = "application/json", headers extra: [(String, String)] = []) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = .bytes(ByteBuffer(string: body))
        }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return HTTPReply(status: Int(response.status.code), body: String(buffer: buffer), contentType: response.headers.first(name: "Content-Type"))
    }
}

struct HTTPReply: Sendable {
    let status: Int
    let body: String
    let contentType: String?

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    /// The error document's code, or nil.
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
}

/// A `kaji serve` process (KAJI_BIN, else the debug build beside the package).
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], environment: [String: String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stdoutPath = dir.appendingPathComponent("stdout").path
        stderrPath = dir.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["KAJI_LOG_LEVEL"] = env["KAJI_LOG_LEVEL"] ?? "info"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["KAJI_BIN"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidate = root.appendingPathComponent(".build/debug/kaji").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw ServerTestError("the kaji executable was not found: set KAJI_BIN or build it (swift build --build-tests)")
        }
        return candidate
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The `http://127.0.0.1:PORT` the server printed once listening (at most 30 s).
    func waitForURL() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("kaji serve listening on ") }) {
                return String(line.dropFirst("kaji serve listening on ".count))
            }
            guard process.isRunning else { throw ServerTestError("kaji serve exited (\(process.terminationStatus)): \(stderr.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerTestError("kaji serve did not listen within 30 s: \(stderr.suffix(2000))")
    }

    /// SIGTERM, then waits (SIGKILL after 10 s); returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
