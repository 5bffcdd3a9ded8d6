import Engine
import Foundation
import KajiMigrations
import KajiTesting
import PostgresNIO
import Testing

/// Audit event types, step attempt outcomes, wait kinds and run and step states are enums whose raw values
/// the schema's CHECK constraints allow, and nothing else; an unknown stored value is an error when read.
@Suite("Closed sets")
struct ClosedSetTests {
    @Test("every case of each closed set is named in the schema's constraint, and no other value")
    func migrationNamesEveryCase() throws {
        let sql = try KajiMigrationFiles.load().map(\.sql).joined(separator: "\n")
        for value in AuditEventType.allCases.map(\.rawValue) + WaitKind.allCases.map(\.rawValue) + StepAttemptOutcome.allCases.map(\.rawValue) {
            #expect(sql.contains("'\(value)'"), "\(value) is not in any migration")
        }
    }

    @Test("the schema takes every audit event type and wait kind, and refuses others", .needsDatabase)
    func schemaRefusesUnknownValues() async throws {
        try await TestDatabase.with { db in
            for type in AuditEventType.allCases {
                try await db.store.client.query("INSERT INTO audit_events (type, actor) VALUES (\(type.rawValue), 'test')", logger: db.logger)
            }
            await #expect(throws: (any Error).self) {
                try await db.store.client.query("INSERT INTO audit_events (type, actor) VALUES ('run.exploded', 'test')", logger: db.logger)
            }
            let run = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test")).id
            for kind in WaitKind.allCases {
                try await db.store.client.query("""
                    INSERT INTO steps (run_id, name, state, epoch, wait) VALUES (\(run), \(kind.rawValue), 'waiting', 0, jsonb_build_object('kind', \(kind.rawValue)::text))
                    """, logger: db.logger)
            }
            await #expect(throws: (any Error).self) {
                try await db.store.client.query("INSERT INTO steps (run_id, name, state, epoch, wait) VALUES (\(run), 'nap', 'waiting', 0, '{\"kind\": \"nap\"}')", logger: db.logger)
            }
        }
    }

    @Test("an unknown value read from the database is an error naming the column and the value, not a default", .needsDatabase)
    func unknownValueIsAnError() async throws {
        try await TestDatabase.with { db in
            let run = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test")).id
            // As a newer Kaji's schema might allow.
            try await db.store.client.query("ALTER TABLE audit_events DROP CONSTRAINT audit_events_type_known", logger: db.logger)
            try await db.store.client.query("ALTER TABLE runs DROP CONSTRAINT runs_state_check", logger: db.logger)
            try await db.store.client.query("INSERT INTO audit_events (run_id, type, actor) VALUES (\(run), 'run.exploded', 'test')", logger: db.logger)
            do {
                _ = try await db.store.auditEvents(runID: run)
                Issue.record("an unknown audit event type was read without an error")
            } catch let error as KajiError {
                #expect(error.code == .unknownStoredValue)
                #expect(error.message.contains("audit_events.type") && error.message.contains("'run.exploded'"), "\(error.message)")
            }
            try await db.store.client.query("UPDATE runs SET state = 'hibernating' WHERE id = \(run)", logger: db.logger)
            do {
                _ = try await db.store.run(id: run)
                Issue.record("an unknown run state was read as a default")
            } catch let error as KajiError {
                #expect(error.code == .unknownStoredValue)
                #expect(error.message.contains("runs.state") && error.message.contains("'hibernating'"), "\(error.message)")
            }
            await #expect(throws: KajiError.self) { try await db.store.countRuns() }
        }
    }
}
