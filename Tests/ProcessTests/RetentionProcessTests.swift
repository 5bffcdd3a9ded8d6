import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// `kaji prune` and a `kaji worker` process with a retention (moved from EngineTests' RetentionTests).
@Suite("Retention through kaji prune and worker processes", .timeLimit(.minutes(3)))
struct RetentionProcessTests {
    @Test("kaji prune removes old finished runs in batches with their steps and payloads; audit events and unfinished runs stay", .needsDatabase)
    func pruneCommand() async throws {
        try await TestDatabase.with { db in
            let (old, recent, unfinished) = try await RetentionFixtures.history(db)
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
            let (old, recent, unfinished) = try await RetentionFixtures.history(db)
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
