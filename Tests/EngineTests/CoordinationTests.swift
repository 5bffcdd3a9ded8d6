import Engine
import Foundation
import KajiTesting
import Testing

@Suite("Durable waits, signals and approvals", .timeLimit(.minutes(3)), .needsDatabase)
struct WaitTests {
    @Test("a durable sleep holds no worker: the run survives restarting every worker and resumes on time")
    func sleepSurvivesRestart() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "sleepMillis": 2500}"#, actor: "test"))
            let first = try db.spawnWorker()
            try await eventually("the run is waiting") { try await db.store.run(id: r.id)?.state == .waiting }
            let waiting = try #require(try await db.store.run(id: r.id))
            #expect(waiting.leaseOwner == nil, "a waiting run holds no lease")
            first.signal(SIGTERM)
            #expect(try await first.wait(timeout: .seconds(20)).status == 0)

            let second = try db.spawnWorker()
            let run = try await db.waitForFinish(r.id)
            second.signal(SIGTERM)
            _ = try await second.wait(timeout: .seconds(20))
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            let sleep = try #require(detail.steps.first { $0.name == "sleep" })
            #expect(sleep.state == .succeeded)
            let stepOne = try #require(detail.steps.first { $0.name == "step-1" }?.startedAt)
            #expect(stepOne.timeIntervalSince(run.createdAt) >= 2.4, "resumed no earlier than the sleep's end")
            #expect(detail.events.contains { $0.type == "run.suspended" })
        }
    }

    @Test("a signal sent before the run waits for it is kept and delivered, with its sender")
    func earlySignal() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "waitSignal": "go"}"#, actor: "test"))
            try await client.signal(runID: r.id, name: "go", payload: #"{"disk": 42}"#, sender: "cli:bob@host")
            let pool = db.startPool(testRegistry())
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.output?.contains(#""signalSender": "cli:bob@host""#) == true)
            #expect(detail.output?.contains(#""disk": 42"#) == true)
            #expect(detail.events.contains { $0.type == "signal.sent" && $0.actor == "cli:bob@host" })
            #expect(detail.events.contains { $0.type == "signal.received" })
        }
    }

    @Test("1,000 runs waiting at once hold no worker slots and all resume when signalled")
    func manyWaiting() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            let client = db.client(testRegistry())
            let total = 1000
            let results = try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1, "waitSignal": "go"}"#, count: total), actor: "test")
            let pool = db.startPool(testRegistry(), concurrency: 4)
            try await eventually("all runs wait", timeout: .seconds(120)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'waiting'") == total
            }
            // The last suspensions are recorded a moment before their executions leave the pool.
            try await eventually("waiting runs hold no slot", timeout: .seconds(30)) { pool.pool.activeCount == 0 }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE lease_owner IS NOT NULL") == 0)
            for r in results { try await client.signal(runID: r.id, name: "go", sender: "test") }
            try await eventually("all runs finish", timeout: .seconds(120)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == total
            }
            try await pool.stop()
        }
    }

    @Test("an approval is recorded with its approver; the requester cannot approve their own run")
    func approval() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "cli:alice@host"))
            let pool = db.startPool(testRegistry())
            try await eventually("the run waits for approval") { try await db.store.run(id: r.id)?.state == .waiting }
            do {
                try await client.decide(runID: r.id, approved: true, reason: nil, sender: "cli:alice@host")
                Issue.record("the requester's approval must be refused")
            } catch let error as KajiError {
                #expect(error.message.contains("cli:alice@host requested run"))
            }
            try await client.decide(runID: r.id, approved: true, reason: "looks right", sender: "cli:bob@host")
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.output?.contains(#""approver": "cli:bob@host""#) == true)
            #expect(detail.output?.contains("looks right") == true)
        }
    }

    @Test("a rejection fails the run with who rejected it and why")
    func rejection() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "cli:alice@host"))
            await #expect(throws: KajiError.self) { try await client.decide(runID: r.id, approved: false, reason: "", sender: "cli:bob@host") }
            try await client.decide(runID: r.id, approved: false, reason: "wrong zone", sender: "cli:bob@host")
            let pool = db.startPool(testRegistry())
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .failed)
            #expect(run.lastError == "rejected by cli:bob@host: wrong zone")
        }
    }

    @Test("waitUntil polls durably and keeps the last observation; it times out naming it")
    func pollUntil() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let client = db.client(registry)
            let ok = try await client.enqueue(EnqueueRequest(kind: PollWorkflow.kind, input: #"{"target": 3, "everyMillis": 100, "timeoutMillis": 30000}"#, actor: "test"))
            let never = try await client.enqueue(EnqueueRequest(kind: PollWorkflow.kind, input: #"{"target": 0, "everyMillis": 100, "timeoutMillis": 600}"#, actor: "test"))
            let pool = db.startPool(registry)
            let done = try await db.waitForFinish(ok.id)
            let timedOut = try await db.waitForFinish(never.id)
            try await pool.stop()
            #expect(done.state == .succeeded)
            #expect(counter.count("\(ok.id)/poll") == 3)
            let detail = try #require(try await db.store.runDetail(id: ok.id))
            let wait = try #require(detail.steps.first { $0.name == "disk-ready" })
            #expect(wait.wait?.contains(#""polls": 3"#) == true)
            #expect(timedOut.state == .failed)
            #expect(timedOut.lastError?.contains("last observation: disk is migrating") == true)
        }
    }
}

@Suite("Concurrency keys, cancellation, compensation", .timeLimit(.minutes(3)), .needsDatabase)
struct CoordinationTests {
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

    @Test("cancel: a pending run ends cancelled at once and never starts")
    func cancelPending() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            #expect(try await client.cancel(runID: r.id, reason: "not needed", actor: "cli:carol@host") == .cancelled)
            let run = try #require(try await db.store.run(id: r.id))
            #expect(run.state == .cancelled)
            #expect(run.cancelRequestedBy == "cli:carol@host")
            #expect(run.cancelReason == "not needed")
            #expect(try await db.store.claimRuns(worker: "w", queues: ["default"], limit: 5, leaseSeconds: 30).isEmpty)
            await #expect(throws: KajiError.self) { _ = try await client.cancel(runID: r.id, reason: nil, actor: "x") }
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

    @Test("compensation runs once after a final failure, then the run fails with its error")
    func compensationAfterFailure() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: CompensatingTestWorkflow.kind, input: #"{"failAfterCreate": true, "blockMillis": 0}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .failed)
            #expect(run.lastError?.contains("work broke") == true)
            #expect(counter.count("\(r.id)/create") == 1)
            #expect(counter.count("\(r.id)/undo:thing-1") == 1)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.steps.first { $0.name == "undo:create" }?.state == .succeeded)
            #expect(detail.events.contains { $0.type == "run.compensating" })
        }
    }

    @Test("cancelling a running run with undo steps runs them, then ends it cancelled")
    func compensationOnCancel() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let pool = db.startPool(registry)
            let client = db.client(registry)
            let r = try await client.enqueue(EnqueueRequest(kind: CompensatingTestWorkflow.kind, input: #"{"failAfterCreate": false, "blockMillis": 60000}"#, actor: "test"))
            try await eventually("the work step runs") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(r.id) AND name = 'work' AND state = 'running'") == 1
            }
            #expect(try await client.cancel(runID: r.id, reason: "abort", actor: "cli:carol@host") == .requested)
            let run = try await db.waitForFinish(r.id, timeout: .seconds(20))
            try await pool.stop()
            #expect(run.state == .cancelled)
            #expect(counter.count("\(r.id)/undo:thing-1") == 1)
        }
    }
}
