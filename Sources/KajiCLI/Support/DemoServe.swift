import AsyncHTTPClient
import Engine
import Foundation
import Workflows

/// `kaji serve` for `kaji demo`: this same executable as a child process, on 127.0.0.1 and a port the
/// kernel picks, beside the demo's worker processes on the same database, as a production server runs.
/// A child process rather than a server inside the demo: it is exactly the `kaji serve` a person runs (its
/// own service group, its own SIGTERM drain, its log in a file), the demo's own failures cannot take it
/// down half-way, and stopping it is a SIGTERM, as for the workers.
struct DemoServe {
    let process: Process
    /// `http://127.0.0.1:PORT`, as `kaji serve` printed it.
    let url: String
    let log: String

    /// Starts `kaji serve --listen 127.0.0.1:0` on `databaseURL` and `schema` (handed over in the
    /// environment, `DATABASE_URL` and `KAJI_SCHEMA`, so that no password shows in the process list) with
    /// `extraEnvironment` (e.g. the secret key), and waits at most `timeout` until it prints the URL it
    /// listens on. Its output goes to `log`.
    static func start(databaseURL: String, schema: String, extraEnvironment: [String: String], log: String,
                      timeout: Duration = .seconds(60)) async throws -> DemoServe {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.selfPath)
        process.arguments = ["serve", "--listen", "127.0.0.1:0"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = databaseURL
        environment["KAJI_SCHEMA"] = schema
        environment["KAJI_LOG_LEVEL"] = environment["KAJI_LOG_LEVEL"] ?? "warning"
        for (key, value) in extraEnvironment { environment[key] = value }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("kaji serve listening on ") }),
               let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") }) {
                return DemoServe(process: process, url: String(url), log: log)
            }
            guard process.isRunning else {
                throw CLIFailure(message: "kaji serve exited (status \(process.terminationStatus)) before it listened: \(text.suffix(800))")
            }
            guard ContinuousClock.now < deadline else {
                process.terminate()
                process.waitUntilExit()
                throw CLIFailure(message: "kaji serve did not print the URL it listens on within \(Int(timeout.seconds)) s: \(text.suffix(800))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the server (SIGTERM: requests in flight finish) and waits until it has exited.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Prints where the server is and a viewer token for it, on stdout: the lines a person (or a script)
    /// takes the URL and the token from.
    func announce(viewer: CreatedAPIToken) {
        print("server: \(url) (kaji serve, pid \(process.processIdentifier); its log: \(log))")
        print("viewer token: \(viewer.token) (\(viewer.actor), read-only\(viewer.expiresAt.map { ", valid until \(KajiJSON.format($0))" } ?? ""))")
        print("  try: curl -H \"Authorization: Bearer \(viewer.token)\" \(url)/api/v1/whoami")
    }

    /// A client of this server's API.
    var api: DemoAPI { DemoAPI(url: url) }
}

/// The few API calls the demo makes, each with a bearer token.
struct DemoAPI: Sendable {
    /// `http://127.0.0.1:PORT`.
    let url: String

    /// Applies a cluster manifest (YAML) through `POST /api/v1/manifests/apply` as the token's principal.
    func apply(manifest: String, token: String) async throws -> ApplyReport {
        let body = try await post("/api/v1/manifests/apply", token: token, body: manifest, contentType: "application/yaml")
        return try KajiJSON.decode(ApplyReport.self, from: body)
    }

    /// Approves a run through `POST /api/v1/runs/ID/approve` as the token's principal.
    @discardableResult
    func approve(run: UUID, reason: String, token: String) async throws -> SignalReceipt {
        let body = try await post("/api/v1/runs/\(run.uuidString.lowercased())/approve", token: token,
                                  body: try KajiJSON.string(["reason": reason]))
        return try KajiJSON.decode(SignalReceipt.self, from: body)
    }

    /// One POST with a bearer token; the body of a 2xx answer, else a failure with the server's error.
    func post(_ path: String, token: String, body: String, contentType: String = "application/json") async throws -> String {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: contentType)
        let bytes = Array(body.utf8)
        request.body = .bytes(bytes, length: .known(Int64(bytes.count)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 16 << 20)
        let text = String(decoding: answer.readableBytesView, as: UTF8.self)
        guard (200..<300).contains(response.status.code) else {
            let message = (try? KajiJSON.decode(ErrorAnswer.self, from: text))?.error.message ?? String(text.prefix(500))
            throw CLIFailure(message: "kaji serve answered \(response.status.code) to POST \(path): \(message)")
        }
        return text
    }

    private struct ErrorAnswer: Decodable {
        struct Body: Decodable { var message: String }
        var error: Body
    }
}

/// The demo's API tokens: created database-direct, as an admin does with `kaji token create`.
enum DemoTokens {
    /// How long the demo's tokens stay valid (24 hours): long enough for a `--serve` session of a working
    /// day, of no use to anyone later.
    static let lifetime: TimeInterval = 24 * 3600

    /// A token named `base`, or `base-2`, `base-3`… when an earlier demo took the name on this schema
    /// (token names are never reused), valid for `lifetime`.
    static func create(_ client: KajiClient, _ base: String, role: APIRole, actor: String) async throws -> CreatedAPIToken {
        let expires = Date().addingTimeInterval(lifetime)
        for attempt in 1...100 {
            do {
                return try await client.createToken(name: attempt == 1 ? base : "\(base)-\(attempt)", role: role, expiresAt: expires, actor: actor)
            } catch let error as KajiError where error.code == .alreadyExists {
                continue
            }
        }
        throw CLIFailure(message: "token names \(base) to \(base)-100 are all taken in this schema: run the demo on another schema (--schema)")
    }
}
