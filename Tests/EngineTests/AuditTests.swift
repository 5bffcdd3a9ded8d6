import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

@Suite("Verifiable audit", .timeLimit(.minutes(4)), .needsDatabase)
struct AuditTests {
    /// Runs some work so that the audit log holds a few dozen events.
    static func someHistory(_ db: TestDatabase) async throws -> [UUID] {
        let results = try await db.client(testRegistry()).enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 2}"#, count: 5), actor: "cli:alice@host")
        let pool = db.startPool(testRegistry())
        for r in results { try await db.waitForFinish(r.id) }
        try await pool.stop()
        return results.map(\.id)
    }

    /// Runs `sql` as the superuser with triggers off (`session_replication_role = replica`), as a tamperer would.
    static func tamper(_ db: TestDatabase, _ sql: PostgresQuery) async throws {
        try await db.store.client.withTransaction(logger: db.logger) { connection in
            try await connection.query("SET LOCAL session_replication_role = replica", logger: db.logger)
            try await connection.query(sql, logger: db.logger)
        }
    }

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    @Test("UPDATE, DELETE and TRUNCATE of audit events (and of the chain) are refused")
    func appendOnly() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            try await db.store.sealAudit(wait: true)
            for sql: PostgresQuery in ["UPDATE audit_events SET actor = 'cli:mallory@host'", "DELETE FROM audit_events WHERE id = 1",
                                       "TRUNCATE audit_events", "UPDATE audit_chain SET hash = prev_hash", "DELETE FROM audit_chain"] {
                do {
                    try await db.store.client.query(sql, logger: db.logger)
                    Issue.record("\(sql.sql) was allowed")
                } catch {
                    #expect(Self.sqlState(error) == "42501", "\(sql.sql): \(DatabaseConfig.describe(error))")
                    #expect(DatabaseConfig.describe(error).contains("append-only"))
                }
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE actor = 'cli:mallory@host'") == 0)
        }
    }

    @Test("kaji audit verify passes, then names the event a superuser altered and the column that differs")
    func verifyDetectsAlteration() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            let ok = try await KajiProcess.run(["audit", "verify"] + db.cliArguments)
            #expect(ok.status == 0, "stderr: \(ok.stderr)")
            let total = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            #expect(ok.stdout.contains("audit ok: \(total) events verified"))
            let head = try #require(ok.stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
            #expect(try await KajiProcess.run(["audit", "verify", "--expect-head", head] + db.cliArguments).status == 0)
            let forged = head.dropLast(1) + (head.hasSuffix("0") ? "1" : "0")
            let rewritten = try await KajiProcess.run(["audit", "verify", "--expect-head", String(forged)] + db.cliArguments)
            #expect(rewritten.status == 1)
            #expect(rewritten.stderr.contains("rewritten"))

            let victim = try await db.scalarInt("SELECT id FROM audit_events WHERE type = 'step.succeeded' ORDER BY id LIMIT 1 OFFSET 2")
            try await Self.tamper(db, "UPDATE audit_events SET actor = 'worker:innocent', detail = '{\"note\": \"nothing happened\"}' WHERE id = \(victim)")
            let bad = try await KajiProcess.run(["audit", "verify"] + db.cliArguments)
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("audit event \(victim) "), "stderr: \(bad.stderr)")
            #expect(bad.stderr.contains("was altered: actor, detail differ"))

            let json = try await KajiProcess.run(["audit", "verify", "--json"] + db.cliArguments)
            #expect(json.status == 1)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(doc["ok"] as? Bool == false)
            let problem = try #require(doc["problem"] as? [String: Any])
            #expect(problem["eventId"] as? Int == victim)
            #expect(problem["kind"] as? String == "altered")
            #expect(problem["fields"] as? [String] == ["actor", "detail"])
        }
    }

    @Test("kaji audit verify names a deleted event")
    func verifyDetectsDeletion() async throws {
        try await TestDatabase.with { db in
            let runs = try await Self.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            let victim = try await db.scalarInt("SELECT id FROM audit_events WHERE run_id = \(runs[2]) AND type = 'run.claimed'")
            try await Self.tamper(db, "DELETE FROM audit_events WHERE id = \(victim)")
            let bad = try await KajiProcess.run(["audit", "verify", "--json"] + db.cliArguments)
            #expect(bad.status == 1)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
            let problem = try #require(doc["problem"] as? [String: Any])
            #expect(problem["kind"] as? String == "missing")
            #expect(problem["eventId"] as? Int == victim)
            #expect(bad.stderr.contains("audit event \(victim) (chain entry"))
            #expect(bad.stderr.contains("deleted"))
        }
    }

    @Test("an event inserted behind the sealer's back (below its horizon) is reported")
    func verifyDetectsUnsealed() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            // Forge an event that claims an old transaction id: the sealer will never look at it.
            try await Self.tamper(db, "INSERT INTO audit_events (type, actor, xid) VALUES ('run.enqueued', 'cli:mallory', '3')")
            let result = try await db.store.verifyAudit()
            #expect(result.problem?.kind == .unsealed, "\(result)")
        }
    }

    @Test("an edited chain entry is reported: a rewritten hash, then a broken link")
    func verifyDetectsChainEdits() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            try await Self.tamper(db, "UPDATE audit_chain SET prev_hash = sha256('forged') WHERE seq = 6")
            let broken = try await db.store.verifyAudit()
            #expect(broken.problem?.kind == .broken)
            #expect(broken.problem?.seq == 6)
            try await Self.tamper(db, "UPDATE audit_chain SET hash = sha256('forged') WHERE seq = 3")
            let rewritten = try await db.store.verifyAudit()
            #expect(rewritten.problem?.kind == .altered)
            #expect(rewritten.problem?.seq == 3)
            #expect(rewritten.problem?.fields == [])
            #expect(rewritten.problem?.message.contains("chain entry was rewritten") == true)
        }
    }

    @Test("a chain entry deleted is a gap")
    func verifyDetectsGap() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            try await Self.tamper(db, "DELETE FROM audit_chain WHERE seq = 4")
            let result = try await db.store.verifyAudit()
            #expect(!result.ok)
            #expect(result.problem?.kind == .gap)
            #expect(result.problem?.seq == 4)
            #expect(result.checked == 3)
        }
    }

    @Test("sealing under concurrent writers, with a transaction that commits late, chains every event exactly once")
    func sealingUnderLoad() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            let client = db.client(testRegistry())
            // A transaction that writes an event early (low id) and commits only after many later events were sealed.
            let late = try await db.config.connect(logger: db.logger)
            try await late.query("BEGIN", logger: db.logger)
            try await late.query("INSERT INTO audit_events (type, actor) VALUES ('worker.started', 'test:late')", logger: db.logger)
            let store = db.store
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<6 {
                    group.addTask {
                        for i in 0..<40 {
                            _ = try await client.enqueue(EnqueueRequest(kind: "diag.steps", idempotencyKey: "k-\(w)-\(i)", actor: "test:\(w)"))
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<30 {
                        try await store.sealAudit()
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                try await group.waitForAll()
            }
            try await db.store.sealAudit()
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_chain") == 240, "every committed event is sealed; the open transaction's is not visible yet")
            let horizonBefore = try await db.scalarInt("SELECT pg_snapshot_xmin(snap)::text::int8 FROM audit_seal_state")
            try await late.query("COMMIT", logger: db.logger)
            try? await late.close()
            let result = try await db.store.verifyAudit()
            #expect(try await db.scalarInt("SELECT pg_snapshot_xmin(snap)::text::int8 FROM audit_seal_state") > horizonBefore, "the horizon moves once the late transaction ended")
            #expect(result.ok, "\(result.problem?.message ?? "")")
            let events = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            #expect(events == 241)
            #expect(result.checked == events)
            #expect(try await db.scalarInt("SELECT count(DISTINCT event_id)::int8 FROM audit_chain") == events)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_chain c JOIN audit_events e ON e.id = c.event_id WHERE e.actor = 'test:late'") == 1)
        }
    }

    @Test("worker maintenance seals events in the background")
    func workersSeal() async throws {
        try await TestDatabase.with { db in
            _ = try await Self.someHistory(db)
            let worker = try db.spawnWorker()
            try await eventually("the workers sealed every event") {
                try await db.scalarInt("SELECT count(*)::int8 FROM audit_chain") >= db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type NOT LIKE 'worker.%'")
            }
            worker.signal(SIGTERM)
            _ = try await worker.wait(timeout: .seconds(30))
            #expect(try await db.store.verifyAudit().ok)
        }
    }

    @Test("kaji audit filters by run, actor, type and time, and prints JSON")
    func readEvents() async throws {
        try await TestDatabase.with { db in
            let runs = try await Self.someHistory(db)
            let byRun = try await KajiProcess.run(["audit", "--run", runs[0].uuidString, "--json"] + db.cliArguments)
            #expect(byRun.status == 0, "stderr: \(byRun.stderr)")
            let events = try #require(try JSONSerialization.jsonObject(with: Data(byRun.stdout.utf8)) as? [[String: Any]])
            #expect(events.first?["type"] as? String == "run.enqueued")
            #expect(events.last?["type"] as? String == "run.succeeded")
            #expect(events.allSatisfy { $0["runId"] as? String == runs[0].uuidString })
            #expect(events.first?["detail"] is [String: Any], "detail is JSON, not a string")

            let byActor = try await KajiProcess.run(["audit", "--actor", "cli:alice@host", "--json"] + db.cliArguments)
            let enqueues = try #require(try JSONSerialization.jsonObject(with: Data(byActor.stdout.utf8)) as? [[String: Any]])
            #expect(enqueues.count == 5)
            let ids = enqueues.compactMap { $0["id"] as? Int }
            #expect(ids == ids.sorted(), "oldest first")

            let future = try await KajiProcess.run(["audit", "--since", "2999-01-01T00:00:00Z", "--json"] + db.cliArguments)
            #expect((try JSONSerialization.jsonObject(with: Data(future.stdout.utf8)) as? [Any])?.isEmpty == true, "stdout: \(future.stdout)")
            let limited = try await KajiProcess.run(["audit", "--type", "step.succeeded", "--limit", "3", "--json"] + db.cliArguments)
            #expect((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [Any])?.count == 3)
            let bad = try await KajiProcess.run(["audit", "--since", "yesterday"] + db.cliArguments)
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("--since"))
            let human = try await KajiProcess.run(["audit", "--run", runs[1].uuidString] + db.cliArguments)
            #expect(human.stdout.contains("run.claimed"))
        }
    }
}
