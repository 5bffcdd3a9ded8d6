import Engine
import Foundation
import PostgresNIO

/// Helpers of the audit tests (EngineTests' AuditTests, ProcessTests' AuditProcessTests).
package enum AuditFixtures {
    /// Runs some work so that the audit log holds a few dozen events.
    package static func someHistory(_ db: TestDatabase) async throws -> [UUID] {
        let results = try await db.client(testRegistry()).enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 2}"#, count: 5), actor: "cli:alice@host")
        let pool = db.startPool(testRegistry())
        for r in results { try await db.waitForFinish(r.id) }
        try await pool.stop()
        return results.map(\.id)
    }

    /// Runs `sql` as the superuser with triggers off (`session_replication_role = replica`), as a tamperer would.
    package static func tamper(_ db: TestDatabase, _ sql: PostgresQuery) async throws {
        try await db.store.client.withTransaction(logger: db.logger) { connection in
            try await connection.query("SET LOCAL session_replication_role = replica", logger: db.logger)
            try await connection.query(sql, logger: db.logger)
        }
    }
}
