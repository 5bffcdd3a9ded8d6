import Engine
import Foundation
import KajiTesting
import Synchronization
import Testing

/// What a test read from an event stream.
final class StreamLog: Sendable {
    private let events = Mutex<[StreamEvent]>([])
    func append(_ event: StreamEvent) { events.withLock { $0.append(event) } }
    var all: [StreamEvent] { events.withLock { $0 } }
    /// The changes (unnamed events) only.
    var changes: [StreamEvent] { all.filter { $0.event == "message" } }
}

extension StreamEvent {
    /// The audit event of a change.
    var auditEvent: [String: Any] { (object["event"] as? [String: Any]) ?? [:] }
    var auditType: String? { auditEvent["type"] as? String }
    var auditID: Int? { auditEvent["id"] as? Int }
}

@Suite("kaji serve: a run's changes as Server-Sent Events", .needsDatabase, .timeLimit(.minutes(3)))
struct EventStreamTests {
    @Test("the changes of a run arrive as they happen, in order, with ids; the stream ends when the run has finished")
    func followsARun() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("watcher", .viewer)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 3, "stepMillis": 50}"#, actor: "test"))
            let log = StreamLog()
            let pool = Mutex<PoolHandle?>(nil)
            let db = fx.db
            let (status, type) = try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer) { event in
                log.append(event)
                // The worker starts only once the stream is open and has shown the run waiting in its queue:
                // what follows arrives live.
                if event.auditType == "run.enqueued" { pool.withLock { $0 = $0 ?? db.startPool(testRegistry()) } }
                return true
            }
            try await pool.withLock { $0 }?.stop()
            #expect(status == 200)
            #expect(type?.hasPrefix("text/event-stream") == true)
            let changes = log.changes
            let types = changes.compactMap(\.auditType)
            let expected = ["run.enqueued", "run.claimed"] + (1...3).flatMap { _ in ["step.started", "step.succeeded"] } + ["run.succeeded"]
            #expect(types == expected, "\(types)")
            #expect(changes.compactMap { $0.auditEvent["step"] as? String } == ["step-1", "step-1", "step-2", "step-2", "step-3", "step-3"])
            let ids = changes.compactMap(\.auditID)
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "audit ids in order, once each: \(ids)")
            #expect(changes.allSatisfy { $0.id?.isEmpty == false }, "every change has an id")
            #expect(Set(changes.compactMap(\.id)).count == changes.count, "ids differ")
            // Each change carries the run and its step as they were just after it.
            let last = try #require(changes.last)
            #expect((last.object["run"] as? [String: Any])?["state"] as? String == "succeeded")
            let stepDone = try #require(changes.first { $0.auditType == "step.succeeded" })
            #expect((stepDone.object["step"] as? [String: Any])?["state"] as? String == "succeeded")
            // Then `end`, with the run, and the server closes the stream.
            let end = try #require(log.all.last)
            #expect(end.event == "end")
            #expect(end.object["state"] as? String == "succeeded")
            #expect(end.object["id"] as? String == run.id.uuidString.lowercased() || end.object["id"] as? String == run.id.uuidString)

            // A finished run's stream gives every change at once, then `end`.
            let again = StreamLog()
            try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer) { again.append($0); return true }
            #expect(again.changes.compactMap(\.auditType) == expected)
            #expect(again.all.last?.event == "end")

            // Resuming after the third change gives the rest, none twice, by the header or the query.
            let third = try #require(changes[2].id)
            let resumed = StreamLog()
            try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer, headers: [("Last-Event-ID", third)]) { resumed.append($0); return true }
            #expect(resumed.changes.compactMap(\.auditID) == Array(ids.dropFirst(3)))
            #expect(resumed.all.last?.event == "end")
            let byQuery = StreamLog()
            let escaped = third.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? third
            try await fx.stream("/api/v1/runs/\(run.id)/events?lastEventId=\(escaped)", token: viewer) { byQuery.append($0); return true }
            #expect(byQuery.changes.compactMap(\.auditID) == Array(ids.dropFirst(3)))
            // After the last change there is nothing but the end.
            let afterLast = StreamLog()
            try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer, headers: [("Last-Event-ID", try #require(last.id))]) { afterLast.append($0); return true }
            #expect(afterLast.changes.isEmpty)
            #expect(afterLast.all.map(\.event) == ["end"])
        }
    }

    @Test("a resumed stream gets an event that committed after a later one (ids are not commit order), and nothing twice")
    func resumeIsExact() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("watcher", .viewer)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let store = fx.db.store
            // A transaction takes an audit id and stays open; another event takes a later id and commits.
            let inserted = AsyncStream<Void>.makeStream(), release = AsyncStream<Void>.makeStream()
            let late = Task {
                try await store.client.withTransaction(logger: fx.db.logger) { connection in
                    try await connection.query("INSERT INTO audit_events (run_id, type, actor) VALUES (\(run.id), 'signal.sent', 'test:late')", logger: fx.db.logger)
                    inserted.continuation.yield()
                    for await _ in release.stream { break }
                }
            }
            for await _ in inserted.stream { break }
            try await store.client.query("INSERT INTO audit_events (run_id, type, actor) VALUES (\(run.id), 'signal.sent', 'test:early')", logger: fx.db.logger)

            let first = StreamLog()
            try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer) { event in
                first.append(event)
                return event.auditEvent["actor"] as? String != "test:early"
            }
            #expect(first.changes.compactMap { $0.auditEvent["actor"] as? String } == ["test", "test:early"])
            let cursor = try #require(first.changes.last?.id)
            let earlyID = try #require(first.changes.last?.auditID)

            release.continuation.yield()
            try await late.value
            try await fx.client.cancel(runID: run.id, reason: "done", actor: "test:canceller")

            let resumed = StreamLog()
            try await fx.stream("/api/v1/runs/\(run.id)/events", token: viewer, headers: [("Last-Event-ID", cursor)]) { resumed.append($0); return true }
            let actors = resumed.changes.compactMap { $0.auditEvent["actor"] as? String }
            #expect(actors.first == "test:late", "the late event, though its id is below the last one seen: \(actors)")
            #expect(try #require(resumed.changes.first?.auditID) < earlyID)
            let seenIDs = Set(first.changes.compactMap(\.auditID))
            #expect(Set(resumed.changes.compactMap(\.auditID)).isDisjoint(with: seenIDs), "nothing seen is sent again: \(actors)")
            #expect(resumed.changes.compactMap(\.auditType).contains("run.cancelled"))
            #expect(resumed.all.last?.event == "end")
        }
    }

    @Test("SIGTERM ends the open streams: kaji serve exits 0 promptly; the stream closes without end, for the client to resume")
    func shutdownClosesStreams() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("watcher", .viewer)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let log = StreamLog()
            let opened = AsyncStream<Void>.makeStream()
            let path = "/api/v1/runs/\(run.id)/events"
            let reader = Task {
                try await fx.stream(path, token: viewer, timeout: .seconds(60)) { event in
                    log.append(event)
                    opened.continuation.yield()
                    return true
                }
            }
            for await _ in opened.stream { break }
            let stopped = try await fx.server.stop()
            #expect(stopped.status == 0, "\(stopped.stderr.suffix(1000))")
            let (status, _) = try await reader.value
            #expect(status == 200)
            #expect(log.changes.compactMap(\.auditType) == ["run.enqueued"])
            #expect(!log.all.contains { $0.event == "end" }, "the run has not finished")
        }
    }

    @Test("refused: no token 401, an unknown run 404, a malformed Last-Event-ID 422 naming it")
    func refused() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("watcher", .viewer)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let anonymous = try await fx.call(.GET, "/api/v1/runs/\(run.id)/events")
            #expect(anonymous.status == 401)
            let unknown = try await fx.call(.GET, "/api/v1/runs/\(UUID())/events", token: viewer)
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "run_not_found")
            for bad in ["42", "v1.x", "v1.10~5", "v1.10.20"] {
                let reply = try await fx.call(.GET, "/api/v1/runs/\(run.id)/events", token: viewer, headers: [("Last-Event-ID", bad)])
                #expect(reply.status == 422, "\(bad): \(reply.status) \(reply.body)")
                #expect(reply.errorField == "Last-Event-ID", "\(bad): \(reply.body)")
            }
            let query = try await fx.call(.GET, "/api/v1/runs/\(run.id)/events?lastEventId=nope", token: viewer)
            #expect(query.status == 422)
            #expect(query.errorField == "lastEventId")
        }
    }
}
