import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Synchronization
import Testing
import Worker

/// Three steps a, b, c, each counted; undo steps counted too, so a test can see that a database fault never
/// started compensation.
struct FaultProbeWorkflow: CompensatingWorkflow {
    static let kind = "test.fault-probe"
    struct Input: Codable, Sendable { var tag: String }
    let counter: ExecutionCounter

    func run(_ input: Input, context: WorkflowContext) async throws -> [String] {
        let counter = self.counter
        var done: [String] = []
        for name in ["a", "b", "c"] {
            done.append(try await context.step(name, retry: .never) { _ in
                counter.hit("\(input.tag)/\(name)")
                return name
            })
        }
        return done
    }

    func compensate(_ input: Input, context: WorkflowContext) async throws {
        counter.hit("\(input.tag)/undo")
    }
}

/// Ownership under a slow machine, database faults, and the cancel and approval edge cases.
@Suite("Engine hardening: leases, fences, database faults", .timeLimit(.minutes(5)), .needsDatabase)
struct HardeningTests {
    static func registry(_ counter: ExecutionCounter) -> WorkflowRegistry {
        var registry = testRegistry(counter: counter)
        registry.register(FaultProbeWorkflow(counter: counter))
        return registry
    }

    /// Installs a trigger that runs `action` (PL/pgSQL) once, the first time a row of `table` matches `when`.
    /// A sequence counts the firings: it is not rolled back with the failed statement.
    static func injectOnce(_ db: TestDatabase, table: String, when condition: String, action: String) async throws {
        let statements = [
            "CREATE SEQUENCE fault_fired",
            """
            CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN
                IF (\(condition)) AND nextval('fault_fired') = 1 THEN
                    \(action);
                END IF;
                RETURN NEW;
            END $f$
            """,
            "CREATE TRIGGER inject_fault BEFORE INSERT OR UPDATE ON \(table) FOR EACH ROW EXECUTE FUNCTION inject_fault()",
        ]
        for statement in statements {
            try await db.store.client.query(PostgresQuery(unsafeSQL: statement), logger: db.logger)
        }
    }

    /// How often the trigger's condition held (the fault fired on the first of them).
    static func firings(_ db: TestDatabase) async throws -> Int {
        try await db.scalarInt("SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::int8 FROM fault_fired")
    }

    /// The run ends succeeded on its first attempt, each step's body ran once except `twice`, nothing was
    /// undone, and no step attempt failed.
    static func expectNoFailure(_ db: TestDatabase, _ id: UUID, counter: ExecutionCounter, tag: String, twice: String? = nil) async throws {
        // A write that hangs on the dropped connection counts as a fault after 30 s; if the release fails
        // too, the lease (30 s) and the rescue grace (15 s) run out first.
        let run = try await db.waitForFinish(id, timeout: .seconds(150))
        #expect(run.state == .succeeded, "a database fault must not fail the run: \(run.lastError ?? "")")
        #expect(run.attempt == 1, "a database fault is not a run attempt")
        for name in ["a", "b", "c"] {
            #expect(counter.count("\(tag)/\(name)") == (name == twice ? 2 : 1), "step \(name) body runs")
        }
        #expect(counter.count("\(tag)/undo") == 0, "no compensation after a database fault")
        let events = try await db.store.auditEvents(runID: id)
        #expect(!events.contains { $0.type == "step.failed" || $0.type == "run.failed" || $0.type == "run.compensating" || $0.type == "run.retrying" })
        #expect(try await db.scalarInt("SELECT count(*)::int8 FROM step_attempts WHERE run_id = \(id) AND outcome = 'failed'") == 0)
    }

    @Test("an admin shutdown (57P01) raised on a step's result write abandons the attempt: the run succeeds, no step failure, no undo")
    func adminShutdownOnCheckpoint() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            try await Self.injectOnce(db, table: "steps", when: "NEW.name = 'b' AND NEW.state = 'succeeded'",
                                      action: "RAISE EXCEPTION 'injected: terminating connection due to administrator command' USING ERRCODE = 'admin_shutdown'")
            let pool = db.startPool(Self.registry(counter))
            let r = try await db.client(Self.registry(counter)).enqueue(EnqueueRequest(kind: FaultProbeWorkflow.kind, input: #"{"tag": "shutdown"}"#, actor: "test"))
            try await Self.expectNoFailure(db, r.id, counter: counter, tag: "shutdown", twice: "b")
            try await pool.stop()
            #expect(try await Self.firings(db) >= 2, "the fault fired once and the write was made again")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(events.contains { $0.type == "run.released" }, "the abandoned attempt gave the run back at once")
            #expect(!events.contains { $0.type == "lease.expired" })
        }
    }

    @Test("the server killing the connection in the middle of the completion write abandons it; the resumed run replays no step")
    func connectionKilledOnCompletion() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            try await Self.injectOnce(db, table: "runs", when: "TG_OP = 'UPDATE' AND NEW.state = 'succeeded'",
                                      action: "PERFORM pg_terminate_backend(pg_backend_pid())")
            let pool = db.startPool(Self.registry(counter))
            let r = try await db.client(Self.registry(counter)).enqueue(EnqueueRequest(kind: FaultProbeWorkflow.kind, input: #"{"tag": "killed"}"#, actor: "test"))
            try await Self.expectNoFailure(db, r.id, counter: counter, tag: "killed")
            try await pool.stop()
            #expect(try await Self.firings(db) >= 2, "the fault fired once and the write was made again")
            #expect(try await db.store.run(id: r.id)?.epoch ?? 0 >= 2, "the run was resumed under a new claim")
            let events = try await db.store.auditEvents(runID: r.id)
            #expect(events.contains { $0.type == "run.released" }, "the abandoned attempt gave the run back at once")
        }
    }

    @Test("a serialization failure (40001) on a step-started write is not a step failure either")
    func serializationFailureOnStepStart() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            try await Self.injectOnce(db, table: "steps", when: "NEW.name = 'c' AND NEW.state = 'running'",
                                      action: "RAISE EXCEPTION 'injected: could not serialize access' USING ERRCODE = 'serialization_failure'")
            let pool = db.startPool(Self.registry(counter))
            let r = try await db.client(Self.registry(counter)).enqueue(EnqueueRequest(kind: FaultProbeWorkflow.kind, input: #"{"tag": "serial"}"#, actor: "test"))
            try await Self.expectNoFailure(db, r.id, counter: counter, tag: "serial")
            try await pool.stop()
            #expect(try await Self.firings(db) >= 2, "the fault fired once and the write was made again")
        }
    }

    @Test("a statement on a connection that has closed fails at once (ConnectionLost) instead of hanging")
    func statementOnClosedConnection() async throws {
        try await TestDatabase.with { db in
            let connection = try await db.config.connect(logger: db.logger)
            try await connection.close()
            // Unguarded, postgres-nio drops a query written to a closed connection and never answers it.
            let outcome = try await withDeadline(.seconds(20)) { () -> String in
                do {
                    _ = try await connection.guardedQuery("SELECT 1", logger: db.logger)
                    return "answered"
                } catch is ConnectionLost {
                    return "lost"
                } catch {
                    return "other: \(error)"
                }
            }
            #expect(outcome == "lost")
        }
    }

    @Test("fences check owner and claim token: a claim undone by a crash hands the same epoch to another worker, never the same fence")
    func sameEpochDifferentToken() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let first = try #require(try await db.store.claimRuns(worker: "a", queues: ["default"], limit: 1, leaseSeconds: 30).first)
            // What a database crash does to an asynchronously committed claim: the run is pending under its
            // old epoch again, as if the claim never happened.
            try await db.store.client.query("UPDATE runs SET state = 'pending', epoch = epoch - 1, lease_owner = NULL, lease_expires_at = NULL, claim_token = NULL WHERE id = \(r.id)", logger: db.logger)
            let second = try #require(try await db.store.claimRuns(worker: "b", queues: ["default"], limit: 1, leaseSeconds: 30).first)
            #expect(second.epoch == first.epoch)
            #expect(second.token != first.token)
            let a = LeaseToken(first, worker: "a"), b = LeaseToken(second, worker: "b")
            #expect(try await db.store.recordStepStarted(a, step: "step-1", attempt: 1) == .leaseLost)
            #expect(try await db.store.recordStepSucceeded(a, step: "step-1", attempt: 1, result: #""a""#, startedAt: Date()) == false)
            #expect(try await db.store.completeRun(a, output: "{}") == false)
            #expect(try await db.store.holdsLease(a) == false)
            #expect(try await db.store.renewLeases(worker: "a", leases: [a], leaseSeconds: 30).isEmpty)
            // The same epoch and token under another owner name is refused too.
            #expect(try await db.store.holdsLease(LeaseToken(runID: r.id, epoch: second.epoch, worker: "a", token: second.token)) == false)
            #expect(try await db.store.recordStepSucceeded(b, step: "step-1", attempt: 1, result: #""b""#, startedAt: Date()))
            #expect(try await db.store.holdsLease(b))
            // What a worker's renewal asks when it missed a run: a's run was taken over, b's was not.
            #expect(try await db.store.takenOver(worker: "a", leases: [a]) == [a])
            #expect(try await db.store.takenOver(worker: "b", leases: [b]).isEmpty)
            #expect(try await db.store.loadSteps(runID: r.id)["step-1"]?.result == #""b""#)
        }
    }

    @Test("the rescuer waits a grace period after a lease runs out, and never takes a run of a live owner that still renews it")
    func rescuerGraceAndHeartbeat() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            try await db.store.registerWorker(id: "owner", host: "h", pid: 1, queues: ["default"], concurrency: 1)
            let claim = try #require(try await db.store.claimRuns(worker: "owner", queues: ["default"], limit: 1, leaseSeconds: 30).first)
            // The lease ran out a moment ago and the owner beat a moment ago: within the grace, not taken.
            try await db.store.client.query("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = \(r.id)", logger: db.logger)
            try await db.store.client.query("UPDATE workers SET heartbeat_at = now() - interval '31 seconds' WHERE id = 'owner'", logger: db.logger)
            #expect(try await db.store.rescueExpiredLeases(actor: "worker:r", grace: .seconds(10)) == 0)
            // Past the grace, but the owner's heartbeat is fresh and not newer than the lease: not taken.
            try await db.store.client.query("UPDATE runs SET lease_expires_at = now() - interval '20 seconds' WHERE id = \(r.id)", logger: db.logger)
            try await db.store.client.query("UPDATE workers SET heartbeat_at = now() - interval '25 seconds' WHERE id = 'owner'", logger: db.logger)
            #expect(try await db.store.rescueExpiredLeases(actor: "worker:r", grace: .seconds(30)) == 0)
            // The rescuer's own active runs are never taken.
            try await db.store.client.query("UPDATE workers SET stopped_at = now() WHERE id = 'owner'", logger: db.logger)
            #expect(try await db.store.rescueExpiredLeases(actor: "worker:owner", grace: .seconds(10), excluding: [r.id]) == 0)
            // The owner stopped: taken.
            #expect(try await db.store.rescueExpiredLeases(actor: "worker:r", grace: .seconds(10)) == 1)
            #expect(try await db.store.holdsLease(LeaseToken(claim, worker: "owner")) == false)
        }
    }

    @Test("a pool shut down before it ran returns from run() at once: it claims nothing and deregisters")
    func shutdownBeforeRun() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            _ = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", input: "{}", actor: "test"))
            let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: 2, pollInterval: .milliseconds(100)), store: db.store, registry: registry, logger: db.logger)
            pool.shutdown()
            let ran: Bool? = try await withDeadline(.seconds(60)) { try await pool.run(); return true }
            #expect(ran == true, "run() did not return: \(pool.phase)")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'pending'") == 1, "nothing was claimed")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM workers WHERE stopped_at IS NOT NULL") == 1)
        }
    }

    @Test("a cancel that arrives while a run suspends is not lost: the run ends cancelled after its undo steps and frees its key")
    func cancelWhileSuspending() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let client = db.client(registry)
            for (index, suspend) in ["wait", "retry"].enumerated() {
                let r = try await client.enqueue(EnqueueRequest(kind: CompensatingTestWorkflow.kind, input: #"{"failAfterCreate": false, "blockMillis": 0}"#,
                                                                concurrencyKey: "cluster:c\(index)", actor: "test"))
                let claim = try #require(try await db.store.claimRuns(worker: "w", queues: ["default"], limit: 1, leaseSeconds: 30).first)
                let lease = LeaseToken(claim, worker: "w")
                #expect(try await db.store.recordStepStarted(lease, step: "create", attempt: 1) == .open)
                #expect(try await db.store.recordStepSucceeded(lease, step: "create", attempt: 1, result: #""thing-1""#, startedAt: Date()))
                // The cancel comes in after the last step boundary, before the suspension is written.
                #expect(try await client.cancel(runID: r.id, reason: "not needed", actor: "cli:carol@test") == .requested)
                let far = Date().addingTimeInterval(86_400)
                if suspend == "wait" {
                    #expect(try await db.store.suspendRun(lease, state: .waiting, until: far, reason: "waiting for signal 'x'", wakeups: claim.wakeups))
                } else {
                    #expect(try await db.store.scheduleRunRetry(lease, error: "boom", at: far))
                }
                let pool = db.startPool(registry)
                let run = try await db.waitForFinish(r.id)
                try await pool.stop()
                #expect(run.state == .cancelled, "suspended by \(suspend)")
                #expect(counter.count("\(r.id)/undo:thing-1") == 1)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM concurrency_locks WHERE key = \("cluster:c\(index)")") == 0)
            }
        }
    }

    @Test("a rejection fails the run; kaji retry asks for approval again instead of replaying the rejection")
    func rejectionThenRetry() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let client = db.client(registry)
            let pool = db.startPool(registry)
            let r = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "cli:alice@test"))
            try await eventually("the run waits for approval") { try await db.store.run(id: r.id)?.state == .waiting }
            try await client.decide(runID: r.id, approved: false, reason: "wrong zone", sender: "cli:bob@test")
            let failed = try await db.waitForFinish(r.id)
            #expect(failed.state == .failed)
            #expect(failed.lastError?.contains("rejected by cli:bob@test: wrong zone") == true)

            _ = try await db.store.retryRun(id: r.id, actor: "cli:alice@test")
            try await eventually("the retried run waits for a new approval") {
                let steps = try await db.store.loadSteps(runID: r.id)
                return try await db.store.run(id: r.id)?.state == .waiting && steps["approval"]?.state == .waiting
            }
            // The requester still cannot approve; bob now can.
            await #expect(throws: KajiError.self) { try await client.decide(runID: r.id, approved: true, reason: nil, sender: "cli:alice@test") }
            try await client.decide(runID: r.id, approved: true, reason: "zone fixed", sender: "cli:bob@test")
            let done = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(done.state == .succeeded)
        }
    }
}
