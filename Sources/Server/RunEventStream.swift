import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
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

    static func response(_ server: KajiServer, _ call: APICall) async throws -> Response {
        let id = try call.runID()
        var cursor = RunEventCursor.start
        if let text = try call.request.headers[lastEventID].map({ try APICall.noNUL($0, field: "Last-Event-ID") }) ?? call.query("lastEventId") {
            cursor = try RunEventCursor(parsing: text, field: call.request.headers[lastEventID] != nil ? "Last-Event-ID" : "lastEventId")
        }
        // The first reading happens before the answer starts: an unknown run is a 404, not an empty stream.
        let first = try await server.client.runChanges(id: id, after: cursor)
        let client = server.client, logger = server.logger, limit = server.eventStreamLimit
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[Field.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            var read = first
            let clock = ContinuousClock()
            let closeAt = clock.now + limit
            var lastWrite = clock.now
            while true {
                if !read.changes.isEmpty {
                    var text = ""
                    for (position, change) in read.changes { text += "id: \(position)\ndata: \(try KajiJSON.string(change))\n\n" }
                    try await writer.write(ByteBuffer(string: text))
                    lastWrite = clock.now
                }
                if read.finished {
                    if let run = try await reading(logger: logger, id: id, writer: &writer, { try await client.runSummary(id: id) }) {
                        try await writer.write(ByteBuffer(string: "event: end\ndata: \(try KajiJSON.string(run))\n\n"))
                    }
                    break
                }
                if Task.isShuttingDownGracefully || Task.isCancelled || clock.now >= closeAt { break }
                if clock.now - lastWrite >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = clock.now
                }
                do { try await Task.sleep(for: interval) } catch { break }
                let cursor = read.cursor
                guard let next = try await reading(logger: logger, id: id, writer: &writer, { try await client.runChanges(id: id, after: cursor) }) else { break }
                read = next
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The result of `body`, or nil after an `error` event saying why it failed.
    private static func reading<T>(logger: Logger, id: UUID, writer: inout any ResponseBodyWriter, _ body: () async throws -> T) async throws -> T? {
        let document: ErrorDocument
        do {
            return try await body()
        } catch let error as KajiError {
            document = ErrorDocument(error)
        } catch is CancellationError {
            return nil
        } catch {
            logger.error("event stream failed", metadata: ["run": "\(id)", "error": "\(DatabaseConfig.describe(error))"])
            document = ErrorDocument(KajiError(KajiError.Code("internal"), "the server failed; its log says why"))
        }
        try await writer.write(ByteBuffer(string: "event: error\ndata: \(try KajiJSON.string(document))\n\n"))
        return nil
    }
}
