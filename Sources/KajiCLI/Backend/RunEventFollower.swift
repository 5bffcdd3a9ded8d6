import AsyncHTTPClient
import Engine
import Foundation
import NIOCore

/// Follows a run through `GET /api/v1/runs/{id}/events` (Server-Sent Events): hands each change on as it
/// arrives, reconnects with `Last-Event-ID` when the server closes the stream before the run's `end` (a
/// restart, its stream limit), and gives up after a few failed connections in a row.
struct RunEventFollower {
    let backend: RemoteBackend
    /// Connections that may fail in a row before the follower gives up.
    var attempts = 5
    /// No byte for this long (the server sends a comment every 15 s) means the connection is dead.
    var silence: TimeAmount = .seconds(60)

    func follow(id: UUID, timeout: Duration, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws {
        let deadline = ContinuousClock.now + timeout
        let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await stream(id: id, onChange: onChange)
                return true
            }
            group.addTask {
                try await Task.sleep(until: deadline)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        guard finished else {
            let state = try await backend.run(id: id).state
            throw KajiError(.invalidState, "run \(id) did not finish within \(Int(timeout.components.seconds)) s (state \(state.rawValue))")
        }
    }

    /// Reads the stream until its `end` event, reconnecting as needed.
    private func stream(id: UUID, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: RemoteBackend.configuration(read: silence))
        do {
            try await read(http: http, id: id, onChange: onChange)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
    }

    private func read(http: HTTPClient, id: UUID, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws {
        var lastID: String?
        var failures = 0
        while true {
            var request = HTTPClientRequest(url: try backend.url("/runs/\(id.uuidString.lowercased())/events"))
            request.headers.add(name: "Authorization", value: "Bearer \(backend.token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            if let lastID { request.headers.add(name: "Last-Event-ID", value: lastID) }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: .seconds(30))
            } catch {
                failures += 1
                guard failures < attempts, !(error is CancellationError) else { throw backend.unreachable(error) }
                try await Task.sleep(for: .seconds(failures))
                continue
            }
            guard response.status == .ok else {
                let body = try await response.body.collect(upTo: 1 << 20)
                throw RemoteBackend.failure(status: Int(response.status.code), body: Data(body.readableBytesView))
            }
            failures = 0
            var parser = EventStreamParser()
            do {
                for try await buffer in response.body {
                    for event in parser.feed(String(buffer: buffer)) {
                        switch event.event {
                        case "message":
                            let change = try decode(RunChange.self, event.data)
                            try await onChange(change)
                            if let id = event.id { lastID = id }
                        case "end":
                            return
                        case "error":
                            throw try decode(ErrorDocument.self, event.data).error
                        default:
                            continue
                        }
                    }
                }
            } catch let error as KajiError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // The connection broke: go on from the last change received.
                failures += 1
                guard failures < attempts else { throw backend.unreachable(error) }
            }
            // Closed before `end`: the server's stream limit, or it is shutting down. Reconnect.
            try await Task.sleep(for: .seconds(1))
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do {
            return try ServerJSON.decode(T.self, from: text)
        } catch {
            throw KajiError(.serverAnswer, "an event of the server's stream is not what this kaji expects (\(KajiJSON.describe(error)))")
        }
    }
}

/// One event of a `text/event-stream`.
struct StreamedEvent {
    var id: String?
    /// `message` unless the event names itself.
    var event: String
    var data: String
}

/// Splits `text/event-stream` text, as it arrives, into events (the `id`, `event` and `data` fields;
/// comments and other fields are skipped).
struct EventStreamParser {
    private var pending = ""
    private var id: String?
    private var event: String?
    private var data: [String] = []

    mutating func feed(_ text: String) -> [StreamedEvent] {
        pending += text
        var events: [StreamedEvent] = []
        while let newline = pending.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(pending[..<newline])
            pending.removeSubrange(...newline)
            if line.isEmpty {
                if !data.isEmpty { events.append(StreamedEvent(id: id, event: event ?? "message", data: data.joined(separator: "\n"))) }
                id = nil
                event = nil
                data = []
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
