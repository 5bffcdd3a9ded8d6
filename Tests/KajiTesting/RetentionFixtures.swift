import Engine
import Foundation
import PostgresNIO

/// Helpers of the retention tests (EngineTests' RetentionTests, ProcessTests' RetentionProcessTests).
package enum RetentionFixtures {
    /// 1,100 runs that finished 40 days ago (with payloads, steps, attempts and an audit event each), 40
    /// created 50 days ago that finished an hour ago, and 30 created 60 days ago that never finished. Ids are UUIDv7 of
    /// the creation time, as the engine makes them.
    package static func history(_ db: TestDatabase) async throws -> (old: [UUID], recent: [UUID], unfinished: [UUID]) {
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
}
