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
    public func claimRuns(worker: String, queues: [String], kinds: [String]? = nil, limit: Int, leaseSeconds: Double) async throws -> [ClaimedRun] {
        guard limit > 0 else { return [] }
        var runs: [ClaimedRun] = []
        let statement = HotStatements.Claim(queues: queues, kinds: kinds, limit: limit, worker: worker, leaseSeconds: leaseSeconds)
        for try await run in try await client.execute(statement, logger: logger) { runs.append(run) }
        return runs
    }

    /// Renews the leases of the runs this worker holds, and its heartbeat, in one statement.
    /// Returns the ids whose lease is still this worker's (any other was lost: expired and taken), each
    /// with whether a cancel was requested (the fallback when the cancel notification was missed).
    public func renewLeases(worker: String, runs: [(id: UUID, epoch: Int64)], leaseSeconds: Double) async throws -> [UUID: Bool] {
        let ids = runs.map(\.id)
        let epochs = runs.map(\.epoch)
        let query: PostgresQuery = """
            WITH beat AS (
                UPDATE workers SET heartbeat_at = now() WHERE id = \(worker)
            ), held AS (
                SELECT * FROM unnest(\(ids)::uuid[], \(epochs)::bigint[]) AS h(id, epoch)
            )
            UPDATE runs AS r SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            FROM held WHERE r.id = held.id AND r.epoch = held.epoch AND r.state = 'running' AND r.lease_owner = \(worker)
            RETURNING r.id, r.cancel_requested_at IS NOT NULL
            """
        var kept: [UUID: Bool] = [:]
        for try await (id, cancelling) in try await client.query(query, logger: logger).decode((UUID, Bool).self) { kept[id] = cancelling }
        return kept
    }

    /// Puts runs whose lease expired (their worker died or hung) back in the queue, at most `limit` at a
    /// time. Safe to call from every worker at once. Returns how many were rescued.
    @discardableResult
    public func rescueExpiredLeases(actor: String, limit: Int = 100) async throws -> Int {
        let query: PostgresQuery = """
            WITH expired AS (
                SELECT id, lease_owner FROM runs
                WHERE state = 'running' AND lease_expires_at < now()
                ORDER BY lease_expires_at
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ), rescued AS (
                UPDATE runs AS r SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL, run_at = now()
                FROM expired WHERE r.id = expired.id
                RETURNING r.id, r.queue, r.attempt, r.epoch, expired.lease_owner
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, worker, detail)
                SELECT id, 'lease.expired', \(actor), attempt, epoch, lease_owner,
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
