import Foundation
import PostgresNIO

/// A step checkpoint as the executor needs it to resume.
public struct StepCheckpoint: Sendable {
    public var state: StepState
    public var attempts: Int
    public var budgetStart: Int
    public var result: String?
    /// For a wait: its record (deadline, polls, last observation) as JSON text.
    public var wait: String?
}

extension RunStore {
    /// The checkpoints recorded so far for a run, by step name.
    package func loadSteps(runID: UUID) async throws -> [String: StepCheckpoint] {
        var steps: [String: StepCheckpoint] = [:]
        let rows = try await client.query("SELECT name, state, attempts, budget_start, result::text, wait::text FROM steps WHERE run_id = \(runID)", logger: logger)
        for try await (name, state, attempts, budgetStart, result, wait) in rows.decode((String, String, Int, Int, String?, String?).self) {
            steps[name] = StepCheckpoint(state: try StepState.stored(state, column: "steps.state"), attempts: attempts, budgetStart: budgetStart, result: result, wait: wait)
        }
        return steps
    }

    /// What a step-start write found.
    package enum StepGate: Sendable, Equatable {
        /// The attempt is recorded; run the body.
        case open
        /// The lease is gone; another worker owns the run.
        case leaseLost
        /// Someone asked to cancel the run: stop here, at the step boundary.
        case cancelRequested
    }

    /// Records that an attempt of a step begins, unless a cancel was requested. Committed asynchronously
    /// (`synchronous_commit` off for this one transaction): the record reaches disk with the next
    /// synchronous commit, at the latest the step's own result. Only a database crash before then can lose
    /// it, and then the attempt's result is lost too and the step runs again.
    package func recordStepStarted(_ lease: LeaseToken, step: String, attempt: Int, evenIfCancelling: Bool = false) async throws -> StepGate {
        let statement = HotStatements.StepStarted(lease: lease, step: step, attempt: attempt, evenIfCancelling: evenIfCancelling)
        for try await (started, cancelling) in try await client.execute(statement, logger: logger) {
            if started == 1 { return .open }
            return cancelling ? .cancelRequested : .leaseLost
        }
        return .leaseLost
    }

    /// Stores a step's result, fenced by the lease. Returns `false` when the lease is no longer held: the
    /// write is refused and nothing changes.
    package func recordStepSucceeded(_ lease: LeaseToken, step: String, attempt: Int, result: String, startedAt: Date) async throws -> Bool {
        let statement = HotStatements.StepSucceeded(lease: lease, step: step, attempt: attempt, result: result, startedAt: startedAt)
        for try await count in try await client.execute(statement, logger: logger) { return count == 1 }
        return false
    }

    /// Records a failed attempt of a step with its error, fenced by the lease. `final` marks the step
    /// failed for good; otherwise it is `retrying` (at `retryAt`).
    package func recordStepFailed(_ lease: LeaseToken, step: String, attempt: Int, error: String, final: Bool, retryAt: Date?, startedAt: Date) async throws -> Bool {
        let state = final ? "failed" : "retrying"
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, error)
                SELECT id, \(step), \(state), \(attempt), \(lease.epoch), \(lease.worker), \(startedAt), now(), \(error) FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = excluded.state, attempts = excluded.attempts, epoch = excluded.epoch, worker = excluded.worker,
                    started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error
                RETURNING run_id
            ), history AS (
                INSERT INTO step_attempts (run_id, step, attempt, epoch, worker, outcome, error, started_at, finished_at)
                SELECT run_id, \(step), \(attempt), \(lease.epoch), \(lease.worker), \(literal: StepAttemptOutcome.failed), \(error), \(startedAt), now() FROM up
                ON CONFLICT DO NOTHING
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, attempt, epoch, worker, detail)
                SELECT run_id, \(literal: AuditEventType.stepFailed), \(lease.actor), \(step), \(attempt), \(lease.epoch), \(lease.worker),
                       jsonb_build_object('error', \(error)::text, 'final', \(final)::bool, 'retryAt', \(retryAt.map(KajiJSON.format))::text)
                FROM up
            )
            SELECT count(*) FROM up
            """
        return try await count(query) == 1
    }
}

extension HotStatements {
    struct StepStarted: PostgresPreparedStatement {
        typealias Row = (Int, Bool)
        static let name = "kaji_step_started_v2"
        static let sql = """
            WITH owner AS (
                SELECT id, cancel_requested_at IS NOT NULL AS cancelling FROM runs
                WHERE \(fence(id: "$1", epoch: "$2", owner: "$5", token: "$8"))
                  AND set_config('synchronous_commit', 'off', true) IS NOT NULL
                FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at)
                SELECT id, $3::text, 'running', $4::int8, $2::int8, $5::text, now() FROM owner WHERE NOT cancelling OR $6::bool
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'running', attempts = excluded.attempts, epoch = excluded.epoch, worker = excluded.worker,
                    started_at = excluded.started_at, finished_at = NULL
                RETURNING run_id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, attempt, epoch, worker)
                SELECT run_id, \(AuditEventType.stepStarted.sqlLiteral), $7::text, $3::text, $4::int8, $2::int8, $5::text FROM up
            )
            SELECT (SELECT count(*) FROM up)::int8, coalesce((SELECT bool_or(cancelling) FROM owner), false)
            """

        var lease: LeaseToken
        var step: String
        var attempt: Int
        var evenIfCancelling: Bool

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 8)
            bindings.append(lease.runID)
            bindings.append(lease.epoch)
            bindings.append(step)
            bindings.append(attempt)
            bindings.append(lease.worker)
            bindings.append(evenIfCancelling)
            bindings.append(lease.actor)
            bindings.append(lease.token)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (Int, Bool) { try row.decode((Int, Bool).self) }
    }

    struct StepSucceeded: PostgresPreparedStatement {
        typealias Row = Int
        static let name = "kaji_step_succeeded_v2"
        static let sql = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence(id: "$1", epoch: "$2", owner: "$5", token: "$9")) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, result, error)
                SELECT id, $3::text, 'succeeded', $4::int8, $2::int8, $5::text, $6::timestamptz, now(), $7::text::jsonb, NULL FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'succeeded', attempts = excluded.attempts, epoch = excluded.epoch, worker = excluded.worker,
                    started_at = excluded.started_at, finished_at = excluded.finished_at, result = excluded.result, error = NULL
                RETURNING run_id
            ), history AS (
                INSERT INTO step_attempts (run_id, step, attempt, epoch, worker, outcome, started_at, finished_at)
                SELECT run_id, $3::text, $4::int8, $2::int8, $5::text, \(StepAttemptOutcome.succeeded.sqlLiteral), $6::timestamptz, now() FROM up
                ON CONFLICT DO NOTHING
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, attempt, epoch, worker)
                SELECT run_id, \(AuditEventType.stepSucceeded.sqlLiteral), $8::text, $3::text, $4::int8, $2::int8, $5::text FROM up
            )
            SELECT count(*) FROM up
            """

        var lease: LeaseToken
        var step: String
        var attempt: Int
        var result: String
        var startedAt: Date

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 9)
            bindings.append(lease.runID)
            bindings.append(lease.epoch)
            bindings.append(step)
            bindings.append(attempt)
            bindings.append(lease.worker)
            bindings.append(startedAt)
            bindings.append(result)
            bindings.append(lease.actor)
            bindings.append(lease.token)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }
    }
}
