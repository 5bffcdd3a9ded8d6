import Engine
import Foundation
import KajiTesting
import Testing
import Worker

@Suite("Queue, leases and fencing", .timeLimit(.minutes(2)), .needsDatabase)
struct QueueTests {
    @Test("the same idempotency key enqueued concurrently gives one run")
    func idempotencyUnderConcurrency() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            let client = db.client(testRegistry())
            let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: "{}", idempotencyKey: "chat-retry-42", actor: "test"))
                    }
                }
                var all: [EnqueueResult] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(Set(results.map(\.id)).count == 1)
            #expect(results.filter(\.created).count == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'run.enqueued'") == 1)
        }
    }

    @Test("a batch enqueue stores every run in one statement and honours existing keys")
    func batchEnqueue() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let first = try await client.enqueue(EnqueueRequest(kind: "diag.steps", idempotencyKey: "k2", actor: "test"))
            let results = try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1}"#, count: 500),
                                                        idempotencyKeys: (0..<500).map { "k\($0)" }, actor: "test")
            #expect(results.count == 500)
            #expect(results[2].id == first.id && !results[2].created)
            #expect(results.filter(\.created).count == 499)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 500)
        }
    }

    @Test("claims go by priority, then age; runs due later wait")
    func claimOrder() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let low = try await client.enqueue(EnqueueRequest(kind: "diag.steps", priority: 0, actor: "test"))
            let high = try await client.enqueue(EnqueueRequest(kind: "diag.steps", priority: 5, actor: "test"))
            let later = try await client.enqueue(EnqueueRequest(kind: "diag.steps", priority: 9, runAt: Date().addingTimeInterval(3600), actor: "test"))
            let other = try await client.enqueue(EnqueueRequest(kind: "diag.steps", queue: "other", priority: 9, actor: "test"))
            let claimed = try await db.store.claimRuns(worker: "w1", queues: ["default"], limit: 10, leaseSeconds: 30)
            #expect(claimed.map(\.id) == [high.id, low.id])
            #expect(claimed.allSatisfy { $0.epoch == 1 })
            #expect(!claimed.contains { $0.id == later.id || $0.id == other.id })
            #expect(try await db.store.claimRuns(worker: "w2", queues: ["default"], limit: 10, leaseSeconds: 30).isEmpty)
        }
    }

    @Test("a zombie's late checkpoint is refused after its lease expired and another worker took the run")
    func zombieIsFenced() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let zombieClaim = try #require(try await db.store.claimRuns(worker: "zombie", queues: ["default"], limit: 1, leaseSeconds: 0.2).first)
            let zombie = LeaseToken(zombieClaim, worker: "zombie")
            #expect(try await db.store.recordStepStarted(zombie, step: "step-1", attempt: 1) == .open)

            try await eventually("the zombie's lease is rescued") {
                try await db.store.rescueExpiredLeases(actor: "worker:rescuer") == 1
            }
            let ownerClaim = try #require(try await db.store.claimRuns(worker: "owner", queues: ["default"], limit: 1, leaseSeconds: 30).first)
            #expect(ownerClaim.epoch == zombieClaim.epoch + 1)
            let owner = LeaseToken(ownerClaim, worker: "owner")

            // The zombie wakes up and tries to record its result and finish the run: both refused.
            #expect(try await db.store.recordStepSucceeded(zombie, step: "step-1", attempt: 1, result: #""zombie""#, startedAt: Date()) == false)
            #expect(try await db.store.completeRun(zombie, output: "{}") == false)
            #expect(try await db.store.renewLeases(worker: "zombie", leases: [zombie], leaseSeconds: 30).isEmpty)

            #expect(try await db.store.recordStepSucceeded(owner, step: "step-1", attempt: 1, result: #""owner""#, startedAt: Date()))
            let steps = try await db.store.loadSteps(runID: r.id)
            #expect(steps["step-1"]?.result == #""owner""#)
            let events = try await db.store.auditEvents(runID: r.id)
            let expired = try #require(events.first { $0.type == "lease.expired" })
            #expect(expired.worker == "zombie")
            #expect(!events.contains { $0.type == "step.succeeded" && $0.worker == "zombie" })
        }
    }

    @Test("a run whose worker stopped renewing is claimed again by another worker and finishes")
    func expiredLeaseIsTakenOver() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2}"#, actor: "test"))
            // A worker that claims and then hangs forever (never renews).
            _ = try await db.store.claimRuns(worker: "hung", queues: ["default"], limit: 1, leaseSeconds: 0.5)
            let pool = db.startPool(registry, id: "rescuer")
            // The rescuer waits its grace (half its 30 s lease) after the 0.5 s lease runs out: a timeout of
            // grace + 45 s leaves a slow machine room.
            let run = try await db.waitForFinish(r.id, timeout: .seconds(60))
            try await pool.stop()
            #expect(run.state == .succeeded)
            #expect(run.epoch == 2)
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(events.contains { $0.type == "lease.expired" && $0.worker == "hung" })
        }
    }

    @Test("a renewal that misses runs which finished while it ran does not call them lost")
    func renewalMissesFinishedRuns() async throws {
        try await TestDatabase.with(maxConnections: 24) { db in
            let registry = testRegistry()
            // Many short runs at once, renewed every 2 s (a 6 s lease: room for a loaded machine) for several
            // renewals: runs finish between a renewal's snapshot of what executes here and its statement, so a
            // renewal regularly misses a run that just ended. None of them was lost: no "lease lost", and
            // every run succeeds.
            let jobs = 1200
            _ = try await db.client(registry).enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1, "stepMillis": 50}"#, count: jobs), actor: "test")
            let logs = LogCapture()
            let configuration = WorkerConfiguration(concurrency: 16, leaseSeconds: 6, pollInterval: .milliseconds(200),
                                                    rescueInterval: .milliseconds(300), drainTimeout: .seconds(5), inlineRetryLimit: .seconds(2))
            let pool = WorkerPool(configuration: configuration, store: db.store, registry: registry, logger: logs.logger("kaji.test.renewal", level: .warning))
            let handle = PoolHandle(pool: pool, task: Task { try await pool.run() })
            try await eventually("every run finishes", timeout: .seconds(120)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state IN ('succeeded', 'failed', 'cancelled')") == jobs
            }
            try await handle.stop()
            #expect(!logs.text.contains("lease lost"), "\(logs.text.split(separator: "\n").filter { $0.contains("lease lost") }.prefix(3))")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == jobs)
        }
    }

    @Test("a lease is renewed while a step runs longer than the lease")
    func leaseRenewedDuringLongStep() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            // The step outlasts the lease by a third; renewals come every third of it (5 s), and the worker
            // holds the run by its own clock for 12.5 s after each: room for a very slow machine.
            let pool = db.startPool(registry, concurrency: 1, leaseSeconds: 15)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "stepMillis": 20000}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id, timeout: .seconds(120))
            try await pool.stop()
            #expect(run.state == .succeeded)
            #expect(run.epoch == 1, "the run was never taken away from its worker")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(!events.contains { $0.type == "lease.expired" })
        }
    }
}
