import Engine
import Foundation
import KajiTesting
import Testing

/// Tests with real `kaji worker` processes.
@Suite("Worker processes", .timeLimit(.minutes(5)), .needsDatabase)
struct WorkerProcessTests {
    static func diagLog() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kaji-diag-\(UUID().uuidString).log").path
    }

    /// Lines `RUN STEP ATTEMPT EPOCH PID` of the diag log.
    static func executions(_ path: String) -> [[String]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    @Test("a worker killed with SIGKILL mid-run: another worker finishes it, finished steps do not run again")
    func crashAndResume() async throws {
        try await TestDatabase.with { db in
            let log = Self.diagLog()
            defer { try? FileManager.default.removeItem(atPath: log) }
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 6, "stepMillis": 1000}"#, actor: "test"))
            // Steps of a second: the kill lands mid-run even when this test is slow to send it.
            let first = try db.spawnWorker(leaseSeconds: 2, environment: ["KAJI_DIAG_LOG": log], id: "doomed")
            try await eventually("two steps are checkpointed") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(r.id) AND state = 'succeeded'") >= 2
            }
            first.signal(SIGKILL)
            _ = try await first.wait(timeout: .seconds(10))
            let doneBeforeKill = Set(try await db.store.loadSteps(runID: r.id).filter { $0.value.state == .succeeded }.map(\.key))
            #expect(doneBeforeKill.count >= 2)

            let second = try db.spawnWorker(environment: ["KAJI_DIAG_LOG": log], id: "survivor")
            let run = try await db.waitForFinish(r.id, timeout: .seconds(60))
            second.signal(SIGTERM)
            _ = try await second.wait(timeout: .seconds(20))
            #expect(run.state == .succeeded)

            let lines = Self.executions(log)
            for step in doneBeforeKill {
                #expect(lines.filter { $0[1] == step }.count == 1, "step \(step) finished before the kill and must have run exactly once")
            }
            for i in 1...6 { #expect(lines.contains { $0[1] == "step-\(i)" }) }
            #expect(lines.count <= 7, "at most the interrupted step runs twice")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(events.contains { $0.type == "lease.expired" && $0.worker == "doomed" })
            #expect(events.last?.type == "run.succeeded")
            #expect(events.last?.worker == "survivor")
        }
    }

    @Test("no run is claimed twice: 4 worker processes x 2000 runs, each succeeds exactly once")
    func noDoubleClaims() async throws {
        try await TestDatabase.with { db in
            let log = Self.diagLog()
            defer { try? FileManager.default.removeItem(atPath: log) }
            let total = 2000
            _ = try await db.client(testRegistry()).enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1}"#, count: total), actor: "test")
            let workers = try (1...4).map { try db.spawnWorker(concurrency: 8, environment: ["KAJI_DIAG_LOG": log, "KAJI_LOG_LEVEL": "warning"], id: "w\($0)") }
            try await eventually("all runs finish", timeout: .seconds(240)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state IN ('succeeded', 'failed')") == total
            }
            for w in workers { w.signal(SIGTERM) }
            for w in workers { #expect(try await w.wait(timeout: .seconds(30)).status == 0) }

            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == total)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE epoch <> 1") == 0, "every run was claimed once")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'run.claimed'") == total)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'run.succeeded'") == total)
            let lines = Self.executions(log)
            #expect(lines.count == total, "each step body ran exactly once")
            #expect(Set(lines.map { $0[0] }).count == total)
            let claimers = try await db.scalarInt("SELECT count(DISTINCT worker)::int8 FROM audit_events WHERE type = 'run.claimed'")
            #expect(claimers >= 2, "the work was shared between processes")
        }
    }

    @Test("SIGTERM drains: the running step finishes, the run is given back, the process exits 0")
    func gracefulDrain() async throws {
        try await TestDatabase.with { db in
            let log = Self.diagLog()
            defer { try? FileManager.default.removeItem(atPath: log) }
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 5, "stepMillis": 1500}"#, actor: "test"))
            let worker = try db.spawnWorker(drainSeconds: 20, environment: ["KAJI_DIAG_LOG": log], id: "draining")
            try await eventually("step-2 has started") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(r.id) AND name = 'step-2'") == 1
            }
            worker.signal(SIGTERM)
            let result = try await worker.wait(timeout: .seconds(30))
            #expect(result.status == 0)
            let run = try #require(try await db.store.run(id: r.id))
            #expect(run.state == .pending, "given back to the queue")
            let steps = try await db.store.loadSteps(runID: r.id)
            #expect(steps.values.allSatisfy { $0.state == .succeeded }, "the running step finished; none was left running")
            #expect(steps.count < 5, "the run stopped at a step boundary, before its end")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(events.contains { $0.type == "run.released" })

            let next = try db.spawnWorker(environment: ["KAJI_DIAG_LOG": log])
            let finished = try await db.waitForFinish(r.id, timeout: .seconds(30))
            next.signal(SIGTERM)
            _ = try await next.wait(timeout: .seconds(20))
            #expect(finished.state == .succeeded)
            for step in steps.keys { #expect(Self.executions(log).filter { $0[1] == step }.count == 1, "\(step) ran once") }
        }
    }

    @Test("on SIGTERM with no time to drain, a long step is interrupted and its run given back")
    func drainDeadline() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "stepMillis": 60000}"#, actor: "test"))
            let worker = try db.spawnWorker(drainSeconds: 0.2)
            try await eventually("step-1 is running") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(r.id) AND state = 'running'") == 1
            }
            worker.signal(SIGTERM)
            #expect(try await worker.wait(timeout: .seconds(20)).status == 0)
            let run = try #require(try await db.store.run(id: r.id))
            #expect(run.state == .pending)
            #expect(run.leaseOwner == nil)
        }
    }
}
