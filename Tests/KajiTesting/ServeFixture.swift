import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1

/// A `kaji serve` process on a free loopback port: `start` returns once it printed the URL it listens on.
package final class KajiServe: Sendable {
    package let process: KajiProcess
    /// `http://127.0.0.1:PORT`.
    package let baseURL: String

    private init(process: KajiProcess, baseURL: String) {
        self.process = process
        self.baseURL = baseURL
    }

    /// Starts `kaji serve --listen 127.0.0.1:0` with `arguments` (the database's) and `environment`.
    package static func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> KajiServe {
        let process = try KajiProcess(["serve", "--listen", "127.0.0.1:0"] + arguments, environment: environment)
        let prefix = "kaji serve listening on "
        var url: String?
        do {
            try await eventually("kaji serve listens", timeout: .seconds(30), every: .milliseconds(50)) {
                url = process.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
                if url == nil, !process.isRunning { throw KajiTestingError("kaji serve exited: \(process.stderr.suffix(2000))") }
                return url != nil
            }
        } catch {
            _ = try? await process.kill()
            throw error
        }
        guard let url else { throw KajiTestingError("kaji serve printed no URL") }
        return KajiServe(process: process, baseURL: url)
    }

    /// Starts a server on `db`'s schema.
    package static func start(on db: TestDatabase, environment: [String: String] = [:]) async throws -> KajiServe {
        try await start(db.cliArguments, environment: environment)
    }

    /// SIGTERM (it drains), then waits for the exit (SIGKILL after 30 s).
    @discardableResult
    package func stop() async throws -> CommandResult {
        try await process.terminate(timeout: .seconds(30))
    }
}

/// An answer of the server: status, body text and content type.
package struct HTTPReply: Sendable {
    package let status: Int
    package let body: String
    package let contentType: String?

    package var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    package var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    /// The error document's code, or nil.
    package var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    /// The error document's field, or nil.
    package var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
}

/// One event of a `text/event-stream` answer.
package struct StreamEvent: Sendable {
    /// `id:` (nil when the event has none).
    package var id: String?
    /// `event:`, `message` when not given.
    package var event: String
    package var data: String

    package var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any]) ?? [:] }
}

/// A migrated schema of its own on the test PostgreSQL and a `kaji serve` process on it. Both go away when
/// the test ends.
package struct ServeFixture: Sendable {
    package let db: TestDatabase
    package let client: KajiClient
    package let server: KajiServe

    package var databaseURL: String { db.url }
    package var config: DatabaseConfig { db.config }
    package var baseURL: String { server.baseURL }

    /// Runs `body` with a fresh schema and a `kaji serve` on it.
    /// - Parameters:
    ///   - environment: the server's extra environment (default none).
    ///   - catalog: the catalog of `client` (default the diagnostics).
    package static func with<T: Sendable>(environment: [String: String] = [:], catalog: WorkflowCatalog = .diagnostics,
                                          _ body: @Sendable (ServeFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { db in
            let server = try await KajiServe.start(on: db, environment: environment)
            let result: Result<T, any Error>
            do {
                result = .success(try await body(ServeFixture(db: db, client: KajiClient(store: db.store, catalog: catalog), server: server)))
            } catch {
                result = .failure(error)
            }
            _ = try? await server.stop()
            return try result.get()
        }
    }

    /// A token of `role` named `name`, made through the client (as `kaji token create` does).
    package func token(_ name: String, _ role: APIRole, expiresAt: Date? = nil) async throws -> String {
        try await client.createToken(name: name, role: role, expiresAt: expiresAt, actor: "test").token
    }

    /// One HTTP request; returns status and body text.
    package func call(_ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil,
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

    /// Reads a `text/event-stream` answer of `GET path`, handing each event to `onEvent` as it arrives,
    /// until `onEvent` returns false or the server closes the stream; fails after `timeout`. Returns the
    /// status and content type (and, for a status other than 200, the body as the one event's data).
    @discardableResult
    package func stream(_ path: String, token: String?, headers extra: [(String, String)] = [], timeout: Duration = .seconds(60),
                        _ onEvent: @escaping @Sendable (StreamEvent) async throws -> Bool) async throws -> (status: Int, contentType: String?) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        let prepared = request
        let outcome = try await withDeadline(timeout) { () async throws -> (Int, String?) in
            let response = try await HTTPClient.shared.execute(prepared, timeout: .seconds(30))
            let status = Int(response.status.code), type = response.headers.first(name: "Content-Type")
            guard status == 200 else {
                let buffer = try await response.body.collect(upTo: 1 << 20)
                _ = try await onEvent(StreamEvent(id: nil, event: "reply", data: String(buffer: buffer)))
                return (status, type)
            }
            var parser = StreamEventParser()
            for try await buffer in response.body {
                for event in parser.feed(String(buffer: buffer)) where !(try await onEvent(event)) { return (status, type) }
            }
            return (status, type)
        }
        guard let outcome else { throw KajiTestingError("the event stream \(path) did not end within \(timeout)") }
        return outcome
    }
}

/// Splits `text/event-stream` text into events (the fields Kaji sends: id, event, data; comments skipped).
package struct StreamEventParser: Sendable {
    private var pending = ""
    private var id: String?
    private var event: String?
    private var data: [String] = []

    package init() {}

    package mutating func feed(_ text: String) -> [StreamEvent] {
        pending += text
        var events: [StreamEvent] = []
        while let newline = pending.firstIndex(of: "\n") {
            let line = String(pending[..<newline])
            pending = String(pending[pending.index(after: newline)...])
            if line.isEmpty {
                if !data.isEmpty || event != nil { events.append(StreamEvent(id: id, event: event ?? "message", data: data.joined(separator: "\n"))) }
                id = nil; event = nil; data = []
                continue
            }
            if line.hasPrefix(":") { continue }
            var field = line, value = ""
            if let colon = line.firstIndex(of: ":") {
                field = String(line[..<colon])
                value = String(line[line.index(after: colon)...])
                if value.hasPrefix(" ") { value.removeFirst() }
            }
            switch field {
            case "id": id = value
            case "event": event = value
            case "data": data.append(value)
            default: break
            }
        }
        return events
    }
}
