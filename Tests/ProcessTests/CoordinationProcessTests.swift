import Engine
import Foundation
import KajiTesting
import Testing

/// Concurrency keys and cancellation with real `kaji worker` processes and the CLI (moved from EngineTests' CoordinationTests).
@Suite("Concurrency keys and cancellation across worker processes and the CLI", .timeLimit(.minutes(3)), .needsDatabase)
struct CoordinationProcessTests {
    @Test("two runs with one concurrency key never overlap across 3 worker processes; other keys go on in parallel")
    func concurrencyKeys() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            var ids: [String: [UUID]] = [:]
            for key in ["cluster:a", "cluster:b"] {
                for _ in 0..<(key == "cluster:a" ? 5 : 3) {
                    let r = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "stepMillis": 150}"#, concurrencyKey: key, actor: "test"))
                    ids[key, default: []].append(r.id)
                }
            }
            let workers = try (1...3).map { try db.spawnWorker(concurrency: 4, id: "kw\($0)") }
            try await eventually("all runs finish", timeout: .seconds(90)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == 8
            }
            for w in workers { w.signal(SIGTERM) }
            for w in workers { _ = try await w.wait(timeout: .seconds(20)) }

            var spans: [UUID: (Date, Date)] = [:]
            for id in ids.values.flatMap({ $0 }) {
                let events = try await db.store.auditEvents(runID: id)
                let start = try #require(events.first { $0.type == "run.claimed" }?.at)
                let end = try #require(events.first { $0.type == "run.succeeded" }?.at)
                spans[id] = (start, end)
            }
            for (key, runs) in ids {
                let ordered = runs.compactMap { spans[$0] }
                for (a, b) in zip(ordered, ordered.dropFirst()) {
                    #expect(a.1 <= b.0, "runs with key \(key) overlapped or ran out of order")
                }
            }
            let aSpan = (ids["cluster:a"]!.compactMap { spans[$0]?.0 }.min()!, ids["cluster:a"]!.compactMap { spans[$0]?.1 }.max()!)
            let bSpan = (ids["cluster:b"]!.compactMap { spans[$0]?.0 }.min()!, ids["cluster:b"]!.compactMap { spans[$0]?.1 }.max()!)
            #expect(aSpan.0 < bSpan.1 && bSpan.0 < aSpan.1, "different keys ran in parallel")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM concurrency_locks") == 0, "every key was released")
        }
    }

    @Test("cancel: a waiting run ends cancelled at once; a running one at its step boundary, the step sees cancellation")
    func cancelWaitingAndRunning() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let waiting = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"waitSignal": "never"}"#, actor: "test"))
            let running = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "stepMillis": 60000}"#, actor: "test"))
            let worker = try db.spawnWorker()
            try await eventually("one waits, one runs its step") {
                let w = try await db.store.run(id: waiting.id)?.state
                let s = try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(running.id) AND state = 'running'")
                return w == .waiting && s == 1
            }
            #expect(try await client.cancel(runID: waiting.id, reason: "changed my mind", actor: "cli:carol@host") == .cancelled)
            #expect(try await db.store.run(id: waiting.id)?.state == .cancelled)

            #expect(try await client.cancel(runID: running.id, reason: "too slow", actor: "cli:carol@host") == .requested)
            let run = try await db.waitForFinish(running.id, timeout: .seconds(20))
            #expect(run.state == .cancelled)
            #expect(run.lastError == "cancelled by cli:carol@host: too slow")
            let events = try await db.store.auditEvents(runID: running.id)
            #expect(events.contains { $0.type == "run.cancel_requested" && $0.actor == "cli:carol@host" })
            #expect(events.contains { $0.type == "run.cancelled" })
            worker.signal(SIGTERM)
            #expect(try await worker.wait(timeout: .seconds(20)).status == 0)
        }
    }

    @Test("cancel through the CLI names the run state when it cannot")
    func cancelCLI() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let first = try await KajiProcess.run(["cancel", r.id.uuidString, "--reason", "test", "--json"] + db.cliArguments)
            #expect(first.status == 0)
            #expect(first.stdout.contains(#""outcome" : "cancelled""#))
            let again = try await KajiProcess.run(["cancel", r.id.uuidString] + db.cliArguments)
            #expect(again.status == 1)
            #expect(again.stderr.contains("is cancelled: only unfinished runs can be cancelled"))
        }
    }
}
