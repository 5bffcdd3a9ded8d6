import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

@Suite("Verifiable audit", .timeLimit(.minutes(4)), .needsDatabase)
struct AuditTests {
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    @Test("UPDATE, DELETE and TRUNCATE of audit events (and of the chain) are refused")
    func appendOnly() async throws {
        try await TestDatabase.with { db in
            _ = try await AuditFixtures.someHistory(db)
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

    @Test("an event inserted behind the sealer's back (below its horizon) is reported")
    func verifyDetectsUnsealed() async throws {
        try await TestDatabase.with { db in
            _ = try await AuditFixtures.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            // Forge an event that claims an old transaction id: the sealer will never look at it.
            try await AuditFixtures.tamper(db, "INSERT INTO audit_events (type, actor, xid) VALUES ('run.enqueued', 'cli:mallory', '3')")
            let result = try await db.store.verifyAudit()
            #expect(result.problem?.kind == .unsealed, "\(result)")
        }
    }

    @Test("an edited chain entry is reported: a rewritten hash, then a broken link")
    func verifyDetectsChainEdits() async throws {
        try await TestDatabase.with { db in
            _ = try await AuditFixtures.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            try await AuditFixtures.tamper(db, "UPDATE audit_chain SET prev_hash = sha256('forged') WHERE seq = 6")
            let broken = try await db.store.verifyAudit()
            #expect(broken.problem?.kind == .broken)
            #expect(broken.problem?.seq == 6)
            try await AuditFixtures.tamper(db, "UPDATE audit_chain SET hash = sha256('forged') WHERE seq = 3")
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
            _ = try await AuditFixtures.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            try await AuditFixtures.tamper(db, "DELETE FROM audit_chain WHERE seq = 4")
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
            // The horizon never goes back. (It need not move past the late transaction here: snapshots are
            // server-wide, and another test's older transaction on the shared server can hold it.)
            #expect(try await db.scalarInt("SELECT pg_snapshot_xmin(snap)::text::int8 FROM audit_seal_state") >= horizonBefore, "the horizon never goes back")
            #expect(result.ok, "\(result.problem?.message ?? "")")
            let events = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            #expect(events == 241)
            #expect(result.checked == events)
            #expect(try await db.scalarInt("SELECT count(DISTINCT event_id)::int8 FROM audit_chain") == events)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_chain c JOIN audit_events e ON e.id = c.event_id WHERE e.actor = 'test:late'") == 1)
        }
    }

}
