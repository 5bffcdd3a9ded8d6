import Foundation
import PostgresNIO

/// A signal as a waiting step receives it.
public struct SignalDelivery: Sendable, Codable {
    /// The payload as JSON text.
    public var payload: String
    public var sender: String
    public var sentAt: Date
}

extension RunStore {
    /// Records a wait (a durable sleep, a signal wait, a polled condition) as the step's state, with its
    /// record (deadline, polls, last observation). `final` with an error ends the step failed.
    package func recordStepWaiting(_ lease: LeaseToken, step: String, wait: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, wait)
                SELECT id, \(step), 'waiting', 1, \(lease.epoch), \(lease.worker), now(), \(wait)::text::jsonb FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'waiting', epoch = excluded.epoch, worker = excluded.worker, wait = excluded.wait
                RETURNING run_id, (xmax = 0) AS inserted
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, epoch, worker, detail)
                SELECT run_id, \(literal: AuditEventType.stepWaiting), \(lease.actor), \(step), \(lease.epoch), \(lease.worker), \(wait)::text::jsonb FROM up WHERE inserted
            )
            SELECT count(*) FROM up
            """
        return try await count(query) == 1
    }

    /// Ends a wait: the step succeeds with `result` (JSON), keeping its wait record.
    package func finishWait(_ lease: LeaseToken, step: String, result: String, wait: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, result, wait)
                SELECT id, \(step), 'succeeded', 1, \(lease.epoch), \(lease.worker), now(), now(), \(result)::text::jsonb, \(wait)::text::jsonb FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'succeeded', epoch = excluded.epoch, worker = excluded.worker, finished_at = now(), result = excluded.result, wait = excluded.wait
                RETURNING run_id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, epoch, worker)
                SELECT run_id, \(literal: AuditEventType.stepSucceeded), \(lease.actor), \(step), \(lease.epoch), \(lease.worker) FROM up
            )
            SELECT count(*) FROM up
            """
        return try await count(query) == 1
    }

    /// Ends a wait as failed (timed out, rejected), keeping its wait record.
    package func failWait(_ lease: LeaseToken, step: String, error: String, wait: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, error, wait)
                SELECT id, \(step), 'failed', 1, \(lease.epoch), \(lease.worker), now(), now(), \(error), \(wait)::text::jsonb FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'failed', epoch = excluded.epoch, worker = excluded.worker, finished_at = now(), error = excluded.error, wait = excluded.wait
                RETURNING run_id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, epoch, worker, detail)
                SELECT run_id, \(literal: AuditEventType.stepFailed), \(lease.actor), \(step), \(lease.epoch), \(lease.worker), jsonb_build_object('error', \(error)::text, 'final', true) FROM up
            )
            SELECT count(*) FROM up
            """
        return try await count(query) == 1
    }

    /// Takes the oldest unconsumed signal `name` of the run (ignoring those sent by `excludingSender`) and,
    /// in the same statement, records the waiting step as succeeded with it: a signal is delivered once and
    /// never lost between the two. Returns nil when there is none yet.
    package func consumeSignal(_ lease: LeaseToken, step: String, name: String, excludingSender: String?) async throws -> SignalDelivery? {
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), sig AS (
                SELECT s.id FROM signals AS s, owner
                WHERE s.run_id = owner.id AND s.name = \(name) AND s.consumed_at IS NULL
                  AND (\(excludingSender)::text IS NULL OR s.sender <> \(excludingSender)::text)
                ORDER BY s.id LIMIT 1
                FOR UPDATE OF s
            ), used AS (
                UPDATE signals AS s SET consumed_at = now(), consumed_by_step = \(step) FROM sig WHERE s.id = sig.id
                RETURNING s.payload, s.sender, s.sent_at
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, result)
                SELECT \(lease.runID), \(step), 'succeeded', 1, \(lease.epoch), \(lease.worker), now(), now(),
                       jsonb_build_object('payload', payload, 'sender', sender,
                                          'sentAt', to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                FROM used
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = 'succeeded', epoch = excluded.epoch, worker = excluded.worker, finished_at = now(), result = excluded.result
                RETURNING run_id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, epoch, worker, detail)
                SELECT \(lease.runID), \(literal: AuditEventType.signalReceived), \(lease.actor), \(step), \(lease.epoch), \(lease.worker),
                       jsonb_build_object('signal', \(name)::text, 'sender', sender) FROM used
            )
            SELECT payload::text, sender, sent_at FROM used, (SELECT count(*) FROM up) AS n
            """
        for try await (payload, sender, sentAt) in try await client.query(query, logger: logger).decode((String, String, Date).self) {
            return SignalDelivery(payload: payload, sender: sender, sentAt: sentAt)
        }
        return nil
    }

    /// Sends a signal to an unfinished run. It is kept until the run waits for it; a waiting run is woken.
    /// Refuses unknown and finished runs, naming them.
    @discardableResult
    package func sendSignal(runID: UUID, name: String, payload: String, sender: String) async throws -> Int64 {
        let query: PostgresQuery = """
            WITH r AS (
                UPDATE runs SET wakeups = wakeups + 1, run_at = CASE WHEN state = 'waiting' THEN now() ELSE run_at END
                WHERE id = \(runID) AND state NOT IN ('succeeded', 'failed', 'cancelled')
                RETURNING id, queue, state, attempt, epoch
            ), sig AS (
                INSERT INTO signals (run_id, name, payload, sender) SELECT id, \(name), \(payload)::text::jsonb, \(sender) FROM r
                RETURNING id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, detail)
                SELECT r.id, \(literal: AuditEventType.signalSent), \(sender), r.attempt, r.epoch, jsonb_build_object('signal', \(name)::text, 'signalId', sig.id) FROM r, sig
            )
            SELECT sig.id FROM sig, r, LATERAL (SELECT pg_notify(\(channel), r.queue)) AS n
            """
        if let id = try await scalar(query, as: Int64.self) { return id }
        guard let run = try await run(id: runID) else { throw KajiError(.runNotFound, "no run with id \(runID)") }
        throw KajiError(.invalidState, "run \(runID) is \(run.state.rawValue): signals can only be sent to unfinished runs")
    }

    /// The sender a run's waiting approval must not come from, if its workflow asked for a distinct approver.
    package func approvalExclusion(runID: UUID, signal: String) async throws -> String? {
        let query: PostgresQuery = """
            SELECT wait->>'excludedSender' FROM steps
            WHERE run_id = \(runID) AND state = 'waiting' AND wait->>'signal' = \(signal) AND wait ? 'excludedSender'
            LIMIT 1
            """
        return try await scalar(query, as: String.self)
    }
}
