import Foundation
import PostgresNIO

/// The statements on the hot path (claim, step checkpoints, completion) as named prepared statements: each
/// connection plans them once instead of on every call (planning was about half of their server time).
/// Every parameter is cast to the type its Swift value is sent as.
enum HotStatements {
    /// The lease fence of a prepared statement (see `appendInterpolation(fence:)`, the same predicate for
    /// ad-hoc queries), given the placeholders of the run id, epoch, owner and claim token.
    static func fence(id: String, epoch: String, owner: String, token: String) -> String {
        "id = \(id)::uuid AND epoch = \(epoch)::int8 AND lease_owner = \(owner)::text AND claim_token = \(token)::uuid AND state = 'running'"
    }

    struct Claim: PostgresPreparedStatement {
        typealias Row = ClaimedRun
        static let name = "kaji_claim_runs_v2"
        static let sql = """
            WITH picked AS (
                SELECT c.id, c.concurrency_key, c.priority, c.run_at
                FROM unnest($1::text[]) AS q(name),
                LATERAL (
                    SELECT id, concurrency_key, priority, run_at FROM runs AS r
                    WHERE r.queue = q.name AND state IN ('pending', 'retrying', 'waiting') AND run_at <= now()
                      AND ($2::text[] IS NULL OR r.kind = ANY($2::text[]))
                      AND set_config('synchronous_commit', 'off', true) IS NOT NULL
                      AND (r.concurrency_key IS NULL
                           OR NOT EXISTS (SELECT 1 FROM concurrency_locks AS l WHERE l.key = r.concurrency_key AND l.run_id <> r.id))
                    ORDER BY priority DESC, run_at, id
                    LIMIT $3::int8
                    FOR UPDATE SKIP LOCKED
                ) AS c
                ORDER BY c.priority DESC, c.run_at, c.id
                LIMIT $3::int8
            ), locked AS (
                INSERT INTO concurrency_locks (key, run_id)
                SELECT concurrency_key, id FROM picked WHERE concurrency_key IS NOT NULL ORDER BY priority DESC, run_at, id
                ON CONFLICT (key) DO NOTHING
                RETURNING run_id
            ), allowed AS (
                SELECT p.id FROM picked AS p
                WHERE p.concurrency_key IS NULL
                   OR p.id IN (SELECT run_id FROM locked)
                   OR EXISTS (SELECT 1 FROM concurrency_locks AS l WHERE l.key = p.concurrency_key AND l.run_id = p.id)
            ), claimed AS (
                UPDATE runs AS r
                SET state = 'running', epoch = r.epoch + 1, lease_owner = $4::text,
                    lease_expires_at = now() + make_interval(secs => $5::float8), claim_token = gen_random_uuid(),
                    started_at = coalesce(r.started_at, now())
                FROM allowed WHERE r.id = allowed.id
                RETURNING r.id, r.kind, r.queue, r.epoch, r.claim_token, r.attempt, r.max_attempts, r.actor, r.wakeups,
                          r.cancel_requested_at IS NOT NULL AS cancel_requested, r.phase = 'compensating' AS compensating
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker)
                SELECT id, 'run.claimed', $6::text, attempt, epoch, $4::text FROM claimed
            )
            SELECT c.id, c.kind, c.queue, c.epoch, c.claim_token, c.attempt, c.max_attempts, p.input::text, c.actor, c.wakeups, c.cancel_requested, c.compensating
            FROM claimed AS c JOIN run_payloads AS p ON p.run_id = c.id
            """

        var queues: [String]
        var kinds: [String]?
        var limit: Int
        var worker: String
        var leaseSeconds: Double

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(queues)
            bindings.append(kinds)
            bindings.append(limit)
            bindings.append(worker)
            bindings.append(leaseSeconds)
            bindings.append("worker:\(worker)")
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> ClaimedRun {
            let (id, kind, queue, epoch, token, attempt, maxAttempts, input, requester, wakeups, cancelRequested, compensating) =
                try row.decode((UUID, String, String, Int64, UUID, Int, Int, String, String, Int64, Bool, Bool).self)
            return ClaimedRun(id: id, kind: kind, queue: queue, epoch: epoch, token: token, attempt: attempt, maxAttempts: maxAttempts, input: input,
                              actor: requester, wakeups: wakeups, cancelRequested: cancelRequested, compensating: compensating)
        }
    }

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
                SELECT run_id, 'step.started', $7::text, $3::text, $4::int8, $2::int8, $5::text FROM up
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
                SELECT run_id, $3::text, $4::int8, $2::int8, $5::text, 'succeeded', $6::timestamptz, now() FROM up
                ON CONFLICT DO NOTHING
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, attempt, epoch, worker)
                SELECT run_id, 'step.succeeded', $8::text, $3::text, $4::int8, $2::int8, $5::text FROM up
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
                SELECT id, 'run.succeeded', $4::text, attempt, $2::int8, $5::text FROM r
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
