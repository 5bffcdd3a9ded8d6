import Engine
import Foundation
import KajiTesting
import Testing

/// Faults injected into real processes: a worker stopped with SIGSTOP, a PostgreSQL restarted or crashed
/// under running work.
@Suite("Faults in real processes", .timeLimit(.minutes(6)), .needsDatabase)
struct FaultProcessTests {
    /// The step rows of a run that are running, as the test waits for a step to be under way.
    static func running(_ db: TestDatabase, _ id: UUID, step: String) async throws -> Bool {
        try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(id) AND name = \(step) AND state = 'running'") == 1
    }

    @Test("a worker stopped (SIGSTOP) for less than its lease keeps its run: epoch 1, no lease.expired, the step runs once")
    func shortStopKeepsTheRun() async throws {
        try await TestDatabase.with { db in
            let log = WorkerProcessTests.diagLog()
            defer { try? FileManager.default.removeItem(atPath: log) }
            // Lease 9 s: renewed every 3 s, held by the worker's own clock for 7.5 s after each renewal; other
            // workers may take it 4.5 s (the grace) after it runs out. The stop lasts 2 s.
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "stepMillis": 6000}"#, actor: "test"))
            let paused = try db.spawnWorker(leaseSeconds: 9, environment: ["KAJI_DIAG_LOG": log], id: "paused")
            try await eventually("the step is under way on the first worker") { try await Self.running(db, r.id, step: "step-1") }
            let bystander = try db.spawnWorker(leaseSeconds: 9, id: "bystander")
            paused.signal(SIGSTOP)
            try await Task.sleep(for: .seconds(2))   // the fault: how long the process is stopped
            paused.signal(SIGCONT)
            let run = try await db.waitForFinish(r.id, timeout: .seconds(60))
            for worker in [paused, bystander] { worker.signal(SIGTERM); _ = try await worker.wait(timeout: .seconds(30)) }
            #expect(run.state == .succeeded)
            #expect(run.epoch == 1, "the stopped worker kept its run")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(!events.contains { $0.type == "lease.expired" })
            #expect(events.last { $0.type == "step.succeeded" }?.worker == "paused")
            #expect(WorkerProcessTests.executions(log).count == 1)
        }
    }

    @Test("a worker stopped for longer than lease + grace loses its run to another; continued, it records nothing and logs the refusal")
    func longStopLosesTheRun() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "stepMillis": 5000}"#, actor: "test"))
            let stopped = try db.spawnWorker(leaseSeconds: 3, id: "stopped")
            try await eventually("the first step is under way on the first worker") { try await Self.running(db, r.id, step: "step-1") }
            stopped.signal(SIGSTOP)
            let taker = try db.spawnWorker(leaseSeconds: 3, id: "taker")
            try await eventually("another worker takes the run", timeout: .seconds(60)) {
                try await db.store.run(id: r.id)?.epoch ?? 0 >= 2
            }
            stopped.signal(SIGCONT)
            let run = try await db.waitForFinish(r.id, timeout: .seconds(60))
            try await eventually("the continued worker notices it lost the run", timeout: .seconds(30)) {
                let text = stopped.stderr
                return text.contains("lease not renewed in time") || text.contains("lease lost") || text.contains("late write refused")
            }
            for worker in [stopped, taker] { worker.signal(SIGTERM); _ = try await worker.wait(timeout: .seconds(30)) }
            #expect(run.state == .succeeded)
            let events = try await db.store.auditEvents(runID: r.id)
            let expiry = events.firstIndex { $0.type == "lease.expired" && $0.worker == "stopped" }
            #expect(expiry != nil, "the stopped worker's lease was taken over")
            // What the stopped worker wrote before the stop (a step it finished first, on a slow machine) is
            // its due; after its lease was taken over it must write nothing.
            let afterLoss = expiry.map { events[($0 + 1)...] } ?? []
            #expect(!afterLoss.contains { $0.worker == "stopped" },
                    "the stopped worker recorded nothing after it lost the run: \(afterLoss.filter { $0.worker == "stopped" }.map(\.type))")
            #expect(events.last?.type == "run.succeeded")
            #expect(events.last?.worker == "taker")
        }
    }

    @Test("PostgreSQL restarted (pg_ctl restart -m fast) under a running workflow: the run succeeds, finished steps do not run again, nothing fails")
    func databaseRestartMidRun() async throws {
        try await TestDatabase.withPrivateServer { db, server in
            let log = WorkerProcessTests.diagLog()
            defer { try? FileManager.default.removeItem(atPath: log) }
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 6, "stepMillis": 400}"#, actor: "test"))
            let worker = try db.spawnWorker(leaseSeconds: 6, environment: ["KAJI_DIAG_LOG": log], id: "survivor")
            try await eventually("two steps are checkpointed") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(r.id) AND state = 'succeeded'") >= 2
            }
            let doneBefore = Set(try await db.store.loadSteps(runID: r.id).filter { $0.value.state == .succeeded }.map(\.key))
            try await server.restartFast()
            let run = try await waitThroughOutages(db, r.id)
            worker.signal(SIGTERM)
            let exit = try await worker.wait(timeout: .seconds(30))
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            #expect(run.attempt == 1)
            let lines = WorkerProcessTests.executions(log)
            for step in doneBefore { #expect(lines.filter { $0[1] == step }.count == 1, "\(step) finished before the restart") }
            #expect(lines.count <= 7, "at most the interrupted step runs twice")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(!events.contains { $0.type == "step.failed" || $0.type == "run.failed" || $0.type == "run.retrying" })
            #expect(exit.status == 0, "the worker rode out the restart and drained: \(exit.stderr.suffix(1500))")
        }
    }

    @Test("a database crash right after a claim (pg_ctl stop -m immediate, repeated): never two workers writing under one fence")
    func crashAfterClaim() async throws {
        try await TestDatabase.withPrivateServer { db, server in
            let client = db.client(testRegistry())
            var lost = 0, kept = 0
            for round in 1...6 {
                let r = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
                // The enqueue is on disk; the claim commits asynchronously and is crashed away if not yet flushed.
                try await db.store.client.query("CHECKPOINT", logger: db.logger)
                let a = try #require(try await db.store.claimRuns(worker: "a", queues: ["default"], limit: 1, leaseSeconds: 600).first)
                try await server.crashAndStart()
                var b: ClaimedRun?
                var lastError = ""
                do {
                    try await eventually("the server is back (round \(round))", timeout: .seconds(60)) {
                        do {
                            b = try await db.store.claimRuns(worker: "b", queues: ["default"], limit: 1, leaseSeconds: 600).first
                            return true
                        } catch {
                            lastError = String(reflecting: error)
                            return false
                        }
                    }
                } catch {
                    Issue.record("the server did not come back: \(lastError.prefix(800))")
                    throw error
                }
                let leaseA = LeaseToken(a, worker: "a")
                if let b {
                    lost += 1
                    #expect(b.id == r.id)
                    let leaseB = LeaseToken(b, worker: "b")
                    #expect(try await db.store.recordStepSucceeded(leaseA, step: "step-1", attempt: 1, result: #""a""#, startedAt: Date()) == false)
                    #expect(try await db.store.completeRun(leaseA, output: "{}") == false)
                    #expect(try await db.store.recordStepSucceeded(leaseB, step: "step-1", attempt: 1, result: #""b""#, startedAt: Date()))
                    #expect(try await db.store.completeRun(leaseB, output: "{}"))
                } else {
                    kept += 1
                    #expect(try await db.store.completeRun(leaseA, output: "{}"))
                }
                let run = try #require(try await db.store.run(id: r.id))
                #expect(run.state == .succeeded)
                let winners = try await db.store.auditEvents(runID: r.id).filter { $0.type == "run.succeeded" }
                #expect(winners.count == 1)
            }
            print("crash after claim: \(lost) claims lost and taken again under the same epoch, \(kept) survived")
        }
    }

    /// Waits for the run to finish while the server may still be coming back (queries fail meanwhile).
    func waitThroughOutages(_ db: TestDatabase, _ id: UUID) async throws -> RunSummary {
        var last: RunSummary?
        try await eventually("run \(id) finishes", timeout: .seconds(120)) {
            last = try? await db.store.run(id: id)
            return last?.state.isFinished ?? false
        }
        return try #require(last)
    }
}
