import Foundation
import PostgresNIO

extension RunStore {
    /// Ends a run `succeeded` with its output, fenced by the lease.
    package func completeRun(_ lease: LeaseToken, output: String) async throws -> Bool {
        for try await count in try await client.execute(HotStatements.CompleteRun(lease: lease, output: output), logger: logger) { return count == 1 }
        return false
    }

    /// Ends a run `failed` with its last error, fenced by the lease.
    package func failRun(_ lease: LeaseToken, error: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = 'failed', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL, last_error = \(error)
                WHERE \(fence: lease)
                RETURNING id, attempt
            ), unlock AS (
                DELETE FROM concurrency_locks AS l USING r WHERE l.run_id = r.id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runFailed), \(lease.actor), attempt, \(lease.epoch), \(lease.worker), jsonb_build_object('error', \(error)::text) FROM r
            )
            SELECT count(*) FROM r
            """
        return try await count(query) == 1
    }

    /// Schedules the next attempt of a run after a failed one (state `retrying`, attempt + 1). Steps that
    /// failed for good get a fresh retry budget; finished steps keep their results.
    package func scheduleRunRetry(_ lease: LeaseToken, error: String, at: Date) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = 'retrying', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, last_error = \(error),
                       run_at = CASE WHEN cancel_requested_at IS NOT NULL THEN now() ELSE \(at) END
                WHERE \(fence: lease)
                RETURNING id, attempt, queue, run_at
            ), reset AS (
                UPDATE steps AS s SET state = 'pending', budget_start = s.attempts FROM r WHERE s.run_id = r.id AND s.state IN ('failed', 'running', 'retrying')
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runRetrying), \(lease.actor), attempt, \(lease.epoch), \(lease.worker),
                       jsonb_build_object('error', \(error)::text, 'retryAt', \(KajiJSON.format(at))::text) FROM r
            )
            SELECT count(*) FROM r, LATERAL (SELECT CASE WHEN r.run_at <= now() THEN pg_notify(\(channel), r.queue) END) AS n
            """
        return try await count(query) == 1
    }

    /// Suspends a running run until `until` (a step retry later than the inline limit, a durable wait): it
    /// gives up its lease and slot and is claimed again when due. A signal that arrived since the claim
    /// (`wakeups` moved on) makes it due at once, so that no signal is slept through; so does a cancel
    /// requested while the run was on its way to suspend, so that it ends `cancelled` (after its undo
    /// steps) instead of waiting on, holding its concurrency key.
    package func suspendRun(_ lease: LeaseToken, state: RunState, until: Date, reason: String, wakeups: Int64) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = \(state.rawValue), lease_owner = NULL, lease_expires_at = NULL,
                       run_at = CASE WHEN wakeups <> \(wakeups) OR cancel_requested_at IS NOT NULL THEN now() ELSE \(until) END
                WHERE \(fence: lease)
                RETURNING id, attempt, queue, run_at
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runSuspended), \(lease.actor), attempt, \(lease.epoch), \(lease.worker),
                       jsonb_build_object('state', \(state.rawValue)::text, 'until', \(KajiJSON.format(until))::text, 'reason', \(reason)::text) FROM r
            )
            SELECT count(*) FROM r, LATERAL (SELECT CASE WHEN r.run_at <= now() THEN pg_notify(\(channel), r.queue) END) AS n
            """
        return try await count(query) == 1
    }

    /// Marks a run as compensating (its undo steps run next, also after a crash), fenced by the lease.
    package func beginCompensation(_ lease: LeaseToken, error: String?) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET phase = 'compensating', last_error = coalesce(\(error), last_error)
                WHERE \(fence: lease)
                RETURNING id, attempt
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runCompensating), \(lease.actor), attempt, \(lease.epoch), \(lease.worker), jsonb_build_object('error', \(error)::text) FROM r
            )
            SELECT count(*) FROM r
            """
        return try await count(query) == 1
    }

    /// Ends a running run `cancelled` after a cancel request (recorded by whoever asked), fenced by the lease.
    package func finishCancelled(_ lease: LeaseToken, note: String?) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                       last_error = coalesce(\(note), 'cancelled by ' || coalesce(cancel_requested_by, 'unknown') || coalesce(': ' || cancel_reason, ''))
                WHERE \(fence: lease)
                RETURNING id, attempt, cancel_requested_by, cancel_reason
            ), unlock AS (
                DELETE FROM concurrency_locks AS l USING r WHERE l.run_id = r.id
            ), open_steps AS (
                UPDATE steps AS s SET state = 'failed', error = 'cancelled', finished_at = now() FROM r WHERE s.run_id = r.id AND s.state IN ('running', 'waiting', 'retrying')
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runCancelled), \(lease.actor), attempt, \(lease.epoch), \(lease.worker),
                       jsonb_strip_nulls(jsonb_build_object('requestedBy', cancel_requested_by, 'reason', cancel_reason, 'note', \(note)::text)) FROM r
            )
            SELECT count(*) FROM r
            """
        return try await count(query) == 1
    }

    /// Gives a run back to the queue at once (graceful drain): another worker resumes it from its last
    /// finished step.
    package func releaseRun(_ lease: LeaseToken, reason: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = 'pending', run_at = now(), lease_owner = NULL, lease_expires_at = NULL
                WHERE \(fence: lease)
                RETURNING id, attempt, queue
            ), steps_reset AS (
                UPDATE steps AS s SET state = 'pending' FROM r WHERE s.run_id = r.id AND s.state = 'running'
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.runReleased), \(lease.actor), attempt, \(lease.epoch), \(lease.worker), jsonb_build_object('reason', \(reason)::text) FROM r
            )
            SELECT count(*) FROM r, LATERAL (SELECT pg_notify(\(channel), r.queue)) AS n
            """
        return try await count(query) == 1
    }

    /// Starts a failed or cancelled run again from its first unfinished step (one more attempt; failed
    /// steps get a fresh retry budget). Refuses runs in any other state, naming it.
    package func retryRun(id: UUID, actor: String) async throws -> RunSummary {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET state = 'pending', attempt = attempt + 1, max_attempts = attempt + 1, run_at = now(),
                       finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL, phase = 'forward',
                       cancel_requested_at = NULL, cancel_requested_by = NULL, cancel_reason = NULL
                WHERE id = \(id) AND state IN ('failed', 'cancelled')
                RETURNING id, attempt, epoch, queue
            ), reset AS (
                UPDATE steps AS s SET state = 'pending', budget_start = s.attempts FROM r WHERE s.run_id = r.id AND s.state <> 'succeeded'
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch)
                SELECT id, \(literal: AuditEventType.runRetried), \(actor), attempt, epoch FROM r
            )
            SELECT count(*) FROM r, LATERAL (SELECT pg_notify(\(channel), r.queue)) AS n
            """
        let changed = try await count(query)
        guard let run = try await run(id: id) else {
            throw KajiError(.runNotFound, "no run with id \(id)")
        }
        guard changed == 1 else {
            throw KajiError(.invalidState, "run \(id) is \(run.state.rawValue); only failed or cancelled runs can be retried")
        }
        return run
    }

    /// What `requestCancel` did.
    package enum CancelOutcome: String, Sendable, Codable {
        /// The run ended `cancelled` at once (it was pending, waiting or retrying).
        case cancelled
        /// The run is running (or has undo steps to run): it stops at its next step boundary.
        case requested
    }

    /// Cancels a run: one that is not running, and has no undo steps to run, ends `cancelled` at once;
    /// otherwise the request is recorded and the worker stops it at its next step boundary (the running
    /// step sees Task cancellation). Who asked and why is recorded. Refuses unknown and finished runs.
    package func requestCancel(runID: UUID, actor: String, reason: String?, kindHasCompensation: Bool) async throws -> CancelOutcome {
        let query: PostgresQuery = """
            WITH target AS (
                SELECT id, state,
                       (\(kindHasCompensation) AND EXISTS (SELECT 1 FROM steps AS s WHERE s.run_id = runs.id AND s.state = 'succeeded')) AS undo
                FROM runs WHERE id = \(runID) AND state NOT IN ('succeeded', 'failed', 'cancelled') AND cancel_requested_at IS NULL
                FOR UPDATE
            ), r AS (
                UPDATE runs AS r
                SET cancel_requested_at = now(), cancel_requested_by = \(actor), cancel_reason = \(reason),
                    state = CASE WHEN t.state <> 'running' AND NOT t.undo THEN 'cancelled' ELSE r.state END,
                    finished_at = CASE WHEN t.state <> 'running' AND NOT t.undo THEN now() ELSE r.finished_at END,
                    last_error = CASE WHEN t.state <> 'running' AND NOT t.undo
                                      THEN 'cancelled by ' || \(actor)::text || coalesce(': ' || \(reason)::text, '') ELSE r.last_error END,
                    run_at = now()
                FROM target AS t WHERE r.id = t.id
                RETURNING r.id, r.state, r.queue, r.attempt, r.epoch
            ), unlock AS (
                DELETE FROM concurrency_locks AS l USING r WHERE l.run_id = r.id AND r.state = 'cancelled'
            ), open_steps AS (
                UPDATE steps AS s SET state = 'failed', error = 'cancelled', finished_at = now() FROM r
                WHERE s.run_id = r.id AND r.state = 'cancelled' AND s.state IN ('waiting', 'retrying', 'running')
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, detail)
                SELECT id, CASE WHEN state = 'cancelled' THEN \(literal: AuditEventType.runCancelled) ELSE \(literal: AuditEventType.runCancelRequested) END, \(actor), attempt, epoch,
                       jsonb_strip_nulls(jsonb_build_object('reason', \(reason)::text)) FROM r
            )
            SELECT r.state FROM r,
                LATERAL (SELECT pg_notify(\(channel + "_cancel"), r.id::text), CASE WHEN r.state <> 'cancelled' THEN pg_notify(\(channel), r.queue) END) AS n
            """
        if let state = try await scalar(query, as: String.self) {
            return try RunState.stored(state, column: "runs.state") == .cancelled ? .cancelled : .requested
        }
        guard let run = try await run(id: runID) else { throw KajiError(.runNotFound, "no run with id \(runID)") }
        if run.cancelRequestedBy != nil && !run.state.isFinished {
            throw KajiError(.invalidState, "run \(runID) is already being cancelled (asked by \(run.cancelRequestedBy ?? "?"))")
        }
        throw KajiError(.invalidState, "run \(runID) is \(run.state.rawValue): only unfinished runs can be cancelled")
    }
}

extension HotStatements {
    struct CompleteRun: PostgresPreparedStatement {
        typealias Row = Int
        static let name = "kaji_complete_run_v2"
        static let sql = """
            WITH r AS (
                UPDATE runs SET state = 'succeeded', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
                WHERE \(fence(id: "$1", epoch: "$2", owner: "$5", token: "$6"))
                RETURNING id, attempt
            ), payload AS (
                UPDATE run_payloads AS p SET output = $3::text::jsonb FROM r WHERE p.run_id = r.id
            ), unlock AS (
                DELETE FROM concurrency_locks AS l USING r WHERE l.run_id = r.id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker)
                SELECT id, \(AuditEventType.runSucceeded.sqlLiteral), $4::text, attempt, $2::int8, $5::text FROM r
            )
            SELECT count(*) FROM r
            """

        var lease: LeaseToken
        var output: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(lease.runID)
            bindings.append(lease.epoch)
            bindings.append(output)
            bindings.append(lease.actor)
            bindings.append(lease.worker)
            bindings.append(lease.token)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }
    }
}
