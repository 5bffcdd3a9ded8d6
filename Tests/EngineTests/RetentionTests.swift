import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing
import Worker

@Suite("Retention", .timeLimit(.minutes(3)))
struct RetentionTests {
    @Test("ages: 90d, 12h, 30m, 45s, 1d12h; anything else names the option")
    func ages() throws {
        #expect(try RetentionAge.parse("90d") == .seconds(90 * 86400))
        #expect(try RetentionAge.parse("12h") == .seconds(12 * 3600))
        #expect(try RetentionAge.parse("30m") == .seconds(1800))
        #expect(try RetentionAge.parse("45s") == .seconds(45))
        #expect(try RetentionAge.parse("1d12h") == .seconds(36 * 3600))
        for bad in ["30", "d", "-1d", "0d", "1w", "", "1.5d"] {
            do {
                _ = try RetentionAge.parse(bad)
                Issue.record("'\(bad)' parsed")
            } catch let error as KajiError {
                #expect(error.code == .invalidArgument)
                #expect(error.field == "olderThan" && error.message.hasPrefix("olderThan "), "names the field")
            }
        }
        #expect(try RetentionAge.fromEnvironment([:]) == nil)
        #expect(try RetentionAge.fromEnvironment(["KAJI_RETENTION": "7d"]) == .seconds(7 * 86400))
    }

    /// 1,100 runs that finished 40 days ago (with payloads, steps, attempts and an audit event each), 40
    /// created 50 days ago that finished an hour ago, and 30 created 60 days ago that never finished. Ids are UUIDv7 of
    /// the creation time, as the engine makes them.
    static func history(_ db: TestDatabase) async throws -> (old: [UUID], recent: [UUID], unfinished: [UUID]) {
        let now = Date()
        let old = (0..<1100).map { RunID.make(at: now.addingTimeInterval(-41 * 86400 + Double($0))) }
        let recent = (0..<40).map { _ in RunID.make(at: now.addingTimeInterval(-50 * 86400)) }
        let unfinished = (0..<30).map { _ in RunID.make(at: now.addingTimeInterval(-60 * 86400)) }
        let states = ["succeeded", "failed", "cancelled"]
        let oldStates = old.indices.map { states[$0 % 3] }
        func insert(_ ids: [UUID], states: [String], created: String, finished: String?) async throws {
            try await db.store.client.query("""
                INSERT INTO runs (id, kind, actor, state, created_at, run_at, finished_at)
                SELECT id, 'diag.steps', 'test', state, now() - \(created)::interval, now() - \(created)::interval, now() - \(finished)::interval
                FROM unnest(\(ids)::uuid[], \(states)::text[]) AS u(id, state)
                """, logger: db.logger)
        }
        try await insert(old, states: oldStates, created: "41 days", finished: "40 days")
        try await insert(recent, states: recent.map { _ in "succeeded" }, created: "50 days", finished: "1 hour")
        try await insert(unfinished, states: unfinished.map { _ in "waiting" }, created: "60 days", finished: nil)
        try await db.store.client.query("UPDATE runs SET run_at = now() + interval '1 day' WHERE state = 'waiting'", logger: db.logger)
        for sql: PostgresQuery in [
            "INSERT INTO run_payloads (run_id, input) SELECT id, '{}' FROM runs",
            "INSERT INTO audit_events (run_id, type, actor) SELECT id, 'run.enqueued', 'test' FROM runs",
            """
            INSERT INTO steps (run_id, name, state, attempts, epoch, started_at, finished_at, result)
            SELECT id, 'step-1', 'succeeded', 1, 1, created_at, created_at, '"step-1"' FROM runs
            """,
            """
            INSERT INTO step_attempts (run_id, step, attempt, epoch, outcome, started_at, finished_at)
            SELECT id, 'step-1', 1, 1, 'succeeded', created_at, created_at FROM runs
            """,
        ] {
            try await db.store.client.query(sql, logger: db.logger)
        }
        return (old, recent, unfinished)
    }

    @Test("kaji prune removes old finished runs in batches with their steps and payloads; audit events and unfinished runs stay", .needsDatabase)
    func pruneCommand() async throws {
        try await TestDatabase.with { db in
            let (old, recent, unfinished) = try await Self.history(db)
            let auditBefore = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE run_id = ANY(\(old)::uuid[])")
            #expect(auditBefore == 1100)

            let bad = try await KajiProcess.run(["prune", "--older-than", "30 days"] + db.cliArguments)
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("--older-than '30 days'"))

            let prune = try await KajiProcess.run(["prune", "--older-than", "30d", "--json"] + db.cliArguments)
            #expect(prune.status == 0, "stderr: \(prune.stderr)")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(prune.stdout.utf8)) as? [String: Any])
            #expect(doc["runs"] as? Int == 1100)
            #expect(doc["batches"] as? Int == 3, "500 + 500 + 100")

            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(old)::uuid[])") == 0)
            for table in ["run_payloads", "steps", "step_attempts"] {
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM \(unescaped: table) WHERE run_id = ANY(\(old)::uuid[])") == 0, "\(table) of pruned runs")
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM \(unescaped: table) WHERE run_id = ANY(\(recent + unfinished)::uuid[])") == 70, "\(table) of kept runs")
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent)::uuid[])") == 40)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(unfinished)::uuid[]) AND state = 'waiting'") == 30)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE run_id = ANY(\(old)::uuid[])") == auditBefore, "audit events stay")
            let pruned = try await db.store.auditEvents(AuditFilter(type: "runs.pruned"))
            #expect(pruned.count == 3)
            #expect(pruned.allSatisfy { $0.actor.hasPrefix("cli:") })
            #expect(try await db.store.verifyAudit().ok)

            let again = try await KajiProcess.run(["prune", "--older-than", "30d", "--json"] + db.cliArguments)
            #expect((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["runs"] as? Int == 0)
        }
    }

    @Test("a kaji worker with KAJI_RETENTION=30d prunes on its own", .needsDatabase)
    func workerProcessPrunes() async throws {
        try await TestDatabase.with { db in
            let (old, recent, unfinished) = try await Self.history(db)
            let worker = try db.spawnWorker(environment: ["KAJI_RETENTION": "30d"])
            try await eventually("the worker pruned the old runs") {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(old)::uuid[])") == 0
            }
            worker.signal(SIGTERM)
            let result = try await worker.wait(timeout: .seconds(30))
            #expect(result.status == 0)
            #expect(result.stderr.contains("pruned finished runs"))
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent + unfinished)::uuid[])") == 70)
        }
    }

    @Test("worker maintenance prunes when a retention is set, from several workers at once", .needsDatabase)
    func maintenancePrunes() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            let (old, recent, _) = try await Self.history(db)
            let store = db.store, logger = db.logger
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<4 {
                    group.addTask {
                        try await Maintenance(store: store, worker: "m\(i)", logger: logger, retention: .seconds(86400)).tick()
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(old)::uuid[])") == 0)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent)::uuid[])") == 40)
            let prunedCount = try await db.scalarInt("SELECT coalesce(sum((detail->>'count')::int), 0)::int8 FROM audit_events WHERE type = 'runs.pruned'")
            #expect(prunedCount == 1100, "each run pruned once")
            // Without a retention, nothing is pruned.
            try await db.store.client.query("UPDATE runs SET finished_at = now() - interval '90 days' WHERE id = ANY(\(recent)::uuid[])", logger: db.logger)
            try await Maintenance(store: store, worker: "off", logger: logger, retention: nil).tick()
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent)::uuid[])") == 40)
        }
    }

    /// One finished run, created and finished `created` and `finished` hours ago (its id is a UUIDv7 of its
    /// creation, as the engine makes them).
    static func finishedRun(_ db: TestDatabase, state: String, created: Double, finished: Double, idempotencyKey: String? = nil) async throws -> UUID {
        let id = RunID.make(at: Date().addingTimeInterval(-created * 3600))
        try await db.store.client.query("""
            INSERT INTO runs (id, kind, actor, state, idempotency_key, created_at, run_at, finished_at)
            VALUES (\(id), 'diag.steps', 'test', \(state), \(idempotencyKey), now() - make_interval(secs => \(created * 3600)),
                    now() - make_interval(secs => \(created * 3600)), now() - make_interval(secs => \(finished * 3600)))
            """, logger: db.logger)
        try await db.store.client.query("INSERT INTO run_payloads (run_id, input) VALUES (\(id), '{}')", logger: db.logger)
        return id
    }

    func exists(_ db: TestDatabase, _ id: UUID) async throws -> Bool {
        try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = \(id)") == 1
    }

    @Test("kaji prune keeps a failed run that a cluster's inventory points to as its last operation, until the inventory moves on", .needsDatabase)
    func pruneKeepsAClustersLastFailedRun() async throws {
        try await TestDatabase.with { db in
            let held = try await Self.finishedRun(db, state: "failed", created: 41 * 24, finished: 40 * 24)
            let heldCancelled = try await Self.finishedRun(db, state: "cancelled", created: 41 * 24, finished: 40 * 24)
            let succeededLast = try await Self.finishedRun(db, state: "succeeded", created: 41 * 24, finished: 40 * 24)
            let unrelated = try await Self.finishedRun(db, state: "failed", created: 41 * 24, finished: 40 * 24)
            for (name, run) in [("prod-a", held), ("prod-b", heldCancelled), ("prod-c", succeededLast)] {
                try await db.store.client.query("""
                    INSERT INTO clusters (name, zone, spec, state, last_run_id) VALUES (\(name), 'is1a', '{}', 'deleted', \(run))
                    """, logger: db.logger)
            }
            let prune = try await KajiProcess.run(["prune", "--older-than", "30d", "--json"] + db.cliArguments)
            #expect(prune.status == 0, "stderr: \(prune.stderr)")
            #expect((try JSONSerialization.jsonObject(with: Data(prune.stdout.utf8)) as? [String: Any])?["runs"] as? Int == 2)
            #expect(try await exists(db, held), "the failed run prod-a can still be retried from")
            #expect(try await exists(db, heldCancelled), "and the cancelled one of prod-b")
            #expect(!(try await exists(db, succeededLast)), "a succeeded last run holds nothing to recover")
            #expect(!(try await exists(db, unrelated)))
            // Once the inventory points elsewhere (a later run), the failed run ages out like any other.
            try await db.store.client.query("UPDATE clusters SET last_run_id = NULL WHERE name = 'prod-a'", logger: db.logger)
            _ = try await db.store.pruneFinishedRuns(olderThan: .seconds(30 * 86400), actor: "test")
            #expect(!(try await exists(db, held)))
            #expect(try await exists(db, heldCancelled))
        }
    }

    @Test("prune never removes a run with an idempotency key younger than the idempotency window (24 h), so the key still finds it", .needsDatabase)
    func pruneKeepsRunsInsideTheIdempotencyWindow() async throws {
        #expect(RetentionAge.idempotencyWindow == .seconds(24 * 3600))
        try await TestDatabase.with { db in
            let keyed = try await Self.finishedRun(db, state: "succeeded", created: 3, finished: 2, idempotencyKey: "slack:T1:trigger-1")
            let unkeyed = try await Self.finishedRun(db, state: "succeeded", created: 3, finished: 2)
            let oldKeyed = try await Self.finishedRun(db, state: "succeeded", created: 26, finished: 25, idempotencyKey: "slack:T1:trigger-0")
            let prune = try await KajiProcess.run(["prune", "--older-than", "1h", "--json"] + db.cliArguments)
            #expect(prune.status == 0, "stderr: \(prune.stderr)")
            #expect((try JSONSerialization.jsonObject(with: Data(prune.stdout.utf8)) as? [String: Any])?["runs"] as? Int == 2)
            #expect(try await exists(db, keyed), "its key is inside the window")
            #expect(!(try await exists(db, unkeyed)))
            #expect(!(try await exists(db, oldKeyed)), "its window has passed")
            // Enqueueing with the kept key returns the kept run, not a second one.
            let again = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", idempotencyKey: "slack:T1:trigger-1", actor: "test"))
            #expect(again.id == keyed && !again.created)
            // A shorter window lets it go.
            _ = try await db.store.pruneFinishedRuns(olderThan: .seconds(3600), actor: "test", idempotencyWindow: .seconds(3600))
            #expect(!(try await exists(db, keyed)))
        }
    }
}
