import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime
import ServiceLifecycle

/// `GET /api/v1/runs/{id}/events`: a run's changes as Server-Sent Events (`text/event-stream`).
///
/// Each change (an audit event of the run, with the run and the event's step as they are just after) is
/// an unnamed event (`onmessage`), `data:` a `RunChange` document, `id:` a cursor: a client that
/// reconnects with `Last-Event-ID` (or `?lastEventId=`) gets the changes after it, none lost or repeated.
/// When the run has finished, an `end` event (data: the run) closes the stream; a failure while streaming
/// sends an `error` event (data: the error document) and closes it. A `: keep-alive` comment goes out
/// after 15 s of silence. The server closes a stream after `eventStreamLimit` and when it shuts down, and
/// a client reconnects with its last id.
enum RunEventStream {
    /// How often a stream reads the run's new events.
    static let interval: Duration = .milliseconds(250)
    /// Silence after which a comment line keeps proxies (and the client's read timeout) satisfied.
    static let keepAlive: Duration = .seconds(15)

    /// `HTTPField` (of swift-http-types), reached through the fields Hummingbird exports.
    typealias Field = HTTPFields.Element

    static let lastEventID = Field.Name("Last-Event-ID")!

    /// The stream as a Hummingbird response (the dashboard's `GET /runs/{id}/events`).
    static func response(_ server: KajiServer, _ call: APICall) async throws -> Response {
        let id = try call.runID()
        var cursor = RunEventCursor.start
        if let text = try call.request.headers[lastEventID].map({ try APICall.noNUL($0, field: "Last-Event-ID") }) ?? call.query("lastEventId") {
            cursor = try RunEventCursor(parsing: text, field: call.request.headers[lastEventID] != nil ? "Last-Event-ID" : "lastEventId")
        }
        let chunks = try await self.chunks(server, run: id, after: cursor)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[Field.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            for try await chunk in chunks { try await writer.write(ByteBuffer(string: chunk)) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The stream as the body of the generated operation `runEvents` (`GET /api/v1/runs/{id}/events`).
    static func body(_ server: KajiServer, run id: UUID, after cursor: RunEventCursor) async throws -> HTTPBody {
        let chunks = try await self.chunks(server, run: id, after: cursor)
        return HTTPBody(chunks, length: .unknown, iterationBehavior: .single)
    }

    /// The stream's text, one chunk at a time. The first reading happens here, before the answer starts: an
    /// unknown run is a 404, not an empty stream.
    static func chunks(_ server: KajiServer, run id: UUID, after cursor: RunEventCursor) async throws -> Chunks {
        let first = try await server.client.runChanges(id: id, after: cursor)
        return Chunks(client: server.client, logger: server.logger, id: id, first: first, limit: server.eventStreamLimit)
    }

    /// The stream's text as it is read: each chunk is one or more whole events (or a comment); the sequence
    /// ends after the `end` or `error` event, at the stream's time limit, at shutdown and on cancellation.
    struct Chunks: AsyncSequence, Sendable {
        typealias Element = String
        let client: KajiClient
        let logger: Logger
        let id: UUID
        let first: RunChanges
        let limit: Duration

        func makeAsyncIterator() -> Iterator {
            Iterator(client: client, logger: logger, id: id, read: first, closeAt: ContinuousClock.now + limit)
        }

        struct Iterator: AsyncIteratorProtocol {
            let client: KajiClient
            let logger: Logger
            let id: UUID
            /// The reading not yet written (nil once written).
            var read: RunChanges?
            let closeAt: ContinuousClock.Instant
            var started = false
            var done = false
            var lastWrite = ContinuousClock.now

            mutating func next() async throws -> String? {
                if !started {
                    started = true
                    lastWrite = .now
                    return "retry: 1000\n\n"
                }
                while !done {
                    if let current = read {
                        read = nil
                        var text = ""
                        for (position, change) in current.changes { text += "id: \(position)\ndata: \(try KajiJSON.string(change))\n\n" }
                        if current.finished {
                            done = true
                            let id = id, client = client
                            switch await RunEventStream.reading(logger: logger, id: id, { try await client.runSummary(id: id) }) {
                            case .success(let run): text += "event: end\ndata: \(try KajiJSON.string(run))\n\n"
                            case .failure(let event): text += event
                            case nil: break
                            }
                        } else {
                            pendingCursor = current.cursor
                        }
                        if !text.isEmpty {
                            lastWrite = .now
                            return text
                        }
                        continue
                    }
                    if Task.isShuttingDownGracefully || Task.isCancelled || ContinuousClock.now >= closeAt { done = true; break }
                    if ContinuousClock.now - lastWrite >= keepAlive {
                        lastWrite = .now
                        return ": keep-alive\n\n"
                    }
                    do { try await Task.sleep(for: interval) } catch { done = true; break }
                    guard let cursor = pendingCursor else { done = true; break }
                    let id = id, client = client
                    switch await RunEventStream.reading(logger: logger, id: id, { try await client.runChanges(id: id, after: cursor) }) {
                    case .success(let next): read = next
                    case .failure(let event):
                        done = true
                        lastWrite = .now
                        return event
                    case nil: done = true
                    }
                }
                return nil
            }

            /// Where the next reading starts.
            var pendingCursor: RunEventCursor?
        }
    }

    /// What reading the run gave: the result, the text of an `error` event saying why it failed, or nil
    /// when the stream was cancelled.
    enum Reading<T> {
        case success(T)
        case failure(String)
    }

    private static func reading<T>(logger: Logger, id: UUID, _ body: () async throws -> T) async -> Reading<T>? {
        let document: ErrorDocument
        do {
            return .success(try await body())
        } catch let error as KajiError {
            document = ErrorDocument(error)
        } catch is CancellationError {
            return nil
        } catch {
            logger.error("event stream failed", metadata: ["run": "\(id)", "error": "\(DatabaseConfig.describe(error))"])
            document = ErrorDocument(KajiError(KajiError.Code("internal"), "the server failed; its log says why"))
        }
        let text = (try? KajiJSON.string(document)) ?? #"{"error":{"code":"internal","message":"the server failed"}}"#
        return .failure("event: error\ndata: \(text)\n\n")
    }
}
