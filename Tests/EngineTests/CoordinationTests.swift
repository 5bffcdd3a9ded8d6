import Engine
import Foundation
import KajiTesting
import Testing

@Suite("Durable waits, signals and approvals", .timeLimit(.minutes(3)), .needsDatabase)
struct WaitTests {
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
