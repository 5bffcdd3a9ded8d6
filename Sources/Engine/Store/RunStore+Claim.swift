import Foundation
import PostgresNIO

extension RunStore {
    /// Claims up to `limit` runs that may start now, highest priority first, then oldest: one statement,
    /// `FOR UPDATE SKIP LOCKED`, so that concurrent workers never take the same run. Each claimed run gets
    /// a lease of `leaseSeconds` and a new epoch.
    ///
    /// Candidates are read per queue in index order (`queue = q` rather than `queue = ANY(…)`, which would
    /// read and sort every pending run of the queues on each claim), so a claim costs the same with a
    /// million runs waiting as with ten.
    ///
    /// The claim commits with `synchronous_commit` off: it is visible to every other session at once, and
    /// only a database crash within a fraction of a second can undo it. Then the run is pending again under
    /// its old epoch, and every write this worker makes under the new epoch is refused: nothing is recorded
    /// twice, exactly as when a worker dies.
    /// - Parameter kinds: only runs of these kinds (the workflows this worker can run); nil: any kind.
    package func claimRuns(worker: String, queues: [String], kinds: [String]? = nil, limit: Int, leaseSeconds: Double) async throws -> [ClaimedRun] {
        guard limit > 0 else { return [] }
        var runs: [ClaimedRun] = []
        let statement = HotStatements.Claim(queues: queues, kinds: kinds, limit: limit, worker: worker, leaseSeconds: leaseSeconds)
        for try await run in try await client.execute(statement, logger: logger) { runs.append(run) }
        return runs
    }

    /// Renews the leases of the runs this worker holds, and its heartbeat, in one statement (on the
    /// worker's own connection when given, so that renewals never queue behind other work).
    /// Returns the leases still this worker's, each with whether a cancel was requested (the fallback when the cancel notification was missed). A lease that ran out
    /// but was not taken yet (the rescuer waits a grace period) is renewed.
    package func renewLeases(worker: String, leases: [LeaseToken], leaseSeconds: Double, on connection: PostgresConnection? = nil) async throws -> [LeaseToken: Bool] {
        let ids = leases.map(\.runID)
        let epochs = leases.map(\.epoch)
        let tokens = leases.map(\.token)
        let query: PostgresQuery = """
            WITH beat AS (
                UPDATE workers SET heartbeat_at = now() WHERE id = \(worker)
            ), held AS (
                SELECT * FROM unnest(\(ids)::uuid[], \(epochs)::bigint[], \(tokens)::uuid[]) AS h(id, epoch, token)
            )
            UPDATE runs AS r SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            FROM held WHERE r.id = held.id AND r.epoch = held.epoch AND r.claim_token = held.token
                        AND r.state = 'running' AND r.lease_owner = \(worker)
            RETURNING r.id, r.epoch, r.claim_token, r.cancel_requested_at IS NOT NULL
            """
        var kept: [LeaseToken: Bool] = [:]
        let rows: BufferedRows<PostgresRow>
        if let connection {
            rows = try await connection.guardedQuery(query, logger: logger)
        } else {
            rows = try await client.query(query, logger: logger)
        }
        for try await (id, epoch, token, cancelling) in rows.decode((UUID, Int64, UUID, Bool).self) {
            kept[LeaseToken(runID: id, epoch: epoch, worker: worker, token: token)] = cancelling
        }
        return kept
    }

    /// Of `leases` (ones a renewal did not renew), those whose run was taken over: its row moved to a later
    /// epoch, or it runs under another owner or claim token. A renewal also misses every run that finished,
    /// suspended or was released while it ran; those are not returned. One statement for all of them.
    package func takenOver(worker: String, leases: [LeaseToken]) async throws -> Set<LeaseToken> {
        let query: PostgresQuery = """
            SELECT h.id, h.epoch, h.token
            FROM unnest(\(leases.map(\.runID))::uuid[], \(leases.map(\.epoch))::bigint[], \(leases.map(\.token))::uuid[]) AS h(id, epoch, token)
            JOIN runs AS r ON r.id = h.id
            WHERE r.epoch > h.epoch
               OR (r.state = 'running' AND (r.lease_owner IS DISTINCT FROM \(worker) OR r.claim_token IS DISTINCT FROM h.token))
            """
        var taken: Set<LeaseToken> = []
        for try await (id, epoch, token) in try await client.query(query, logger: logger).decode((UUID, Int64, UUID).self) {
            taken.insert(LeaseToken(runID: id, epoch: epoch, worker: worker, token: token))
        }
        return taken
    }

    /// Opens the connection a worker renews its leases and heartbeat on: its own, outside the pool, with
    /// a statement timeout so that a stuck renewal fails fast and is tried again on a fresh connection.
    package func openLeaseConnection(statementTimeout: Duration) async throws -> PostgresConnection {
        let connection = try await config.connect(logger: logger)
        do {
            let millis = max(100, Int(statementTimeout.seconds * 1000))
            try await connection.query(PostgresQuery(unsafeSQL: "SET statement_timeout = \(millis)"), logger: logger)
            return connection
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Puts runs whose worker died or hung back in the queue, at most `limit` at a time. A run is taken
    /// only when its lease ran out more than `grace` ago *and* its owner is gone: stopped, unknown, its
    /// heartbeat older than `grace`, or beating on without renewing this run (it dropped it). Runs in
    /// `excluding` (those still active in the caller's own pool) are never taken. Safe to call from every
    /// worker at once. Returns how many were rescued.
    @discardableResult
    package func rescueExpiredLeases(actor: String, grace: Duration = .zero, excluding: [UUID] = [], limit: Int = 100) async throws -> Int {
        let graceSeconds = grace.seconds
        let query: PostgresQuery = """
            WITH expired AS (
                SELECT r.id, r.lease_owner FROM runs AS r
                LEFT JOIN workers AS w ON w.id = r.lease_owner
                WHERE r.state = 'running' AND r.lease_expires_at < now() - make_interval(secs => \(graceSeconds))
                  AND (w.id IS NULL OR w.stopped_at IS NOT NULL
                       OR w.heartbeat_at < now() - make_interval(secs => \(graceSeconds))
                       OR w.heartbeat_at > r.lease_expires_at)
                  AND NOT (r.id = ANY(\(excluding)::uuid[]))
                ORDER BY r.lease_expires_at
                LIMIT \(limit)
                FOR UPDATE OF r SKIP LOCKED
            ), rescued AS (
                UPDATE runs AS r SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, claim_token = NULL, run_at = now()
                FROM expired WHERE r.id = expired.id
                RETURNING r.id, r.queue, r.attempt, r.epoch, expired.lease_owner
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, \(literal: AuditEventType.leaseExpired), \(actor), attempt, epoch, lease_owner,
                       jsonb_build_object('previousOwner', lease_owner)
                FROM rescued
            ), notify AS (
                SELECT pg_notify(\(channel), q.queue) FROM (SELECT DISTINCT queue FROM rescued) AS q
            )
            SELECT (SELECT count(*) FROM rescued)::int8 + 0 * (SELECT count(*) FROM notify)
            """
        return try await count(query)
    }
}

extension HotStatements {
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
                SELECT id, \(AuditEventType.runClaimed.sqlLiteral), $6::text, attempt, epoch, $4::text FROM claimed
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
}
