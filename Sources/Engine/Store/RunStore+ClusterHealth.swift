import Foundation
import PostgresNIO

/// The API health checks' statements (`cluster_health`, `cluster_health_checks`, `clusters.api_ca_certificate`):
/// the claim that gives one worker each cluster's check per interval, recording a result under that claim,
/// and reading the latest results and the history. The checker (Workflows) gives them meaning.
extension RunStore {
    // MARK: - The pinned CA

    /// Records a cluster's CA (PEM) in the inventory; returns false when there is no such cluster.
    package func setClusterCACertificate(name: String, pem: String?, on connection: PostgresConnection? = nil) async throws -> Bool {
        let rows = try await query("""
            UPDATE clusters SET api_ca_certificate = \(pem), updated_at = now() WHERE name = \(name) RETURNING name
            """, on: connection)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// A cluster's pinned CA (PEM), or nil (no cluster, or none recorded).
    package func clusterCACertificate(name: String, on connection: PostgresConnection? = nil) async throws -> String? {
        let rows = try await query("SELECT api_ca_certificate FROM clusters WHERE name = \(name)", on: connection)
        for try await pem in rows.decode(String?.self) { return pem }
        return nil
    }

    // MARK: - Claiming and recording

    /// Claims the checks that are due among `candidates` (clusters whose inventory state is one of `states`):
    /// those never checked, and those whose next check time has come and whose last claim was recorded or has
    /// expired. A check is due at its next check time, or one candidate interval after the last recorded
    /// check when that is sooner: a cluster whose interval was shortened (`kaji apply`) is checked at its
    /// new pace at once, not when the old interval ends. In the same statement each claimed cluster's next
    /// check moves one interval on (from the time it was due, or from now when it is more than an interval
    /// late) and a lease of `leaseSeconds` with a fresh token is taken, so that however many workers ask, a
    /// cluster is checked once per interval.
    package func claimClusterHealthChecks(_ candidates: [ClusterHealthCandidate], states: [String], worker: String,
                                          leaseSeconds: Double) async throws -> [ClusterHealthClaim] {
        guard !candidates.isEmpty else { return [] }
        let names = candidates.map(\.cluster)
        let intervals = candidates.map { Double($0.interval.components.seconds) + Double($0.interval.components.attoseconds) / 1e18 }
        let rows = try await client.query("""
            WITH candidates AS (
                SELECT c.cluster, c.interval_s
                FROM unnest(\(names)::text[], \(intervals)::float8[]) AS c(cluster, interval_s)
                JOIN clusters k ON k.name = c.cluster AND k.state = ANY(\(states)::text[])
            ), claimed AS (
                INSERT INTO cluster_health AS h (cluster, next_check_at, lease_owner, lease_token, lease_until)
                SELECT cluster, now() + make_interval(secs => interval_s), \(worker), gen_random_uuid(),
                       now() + make_interval(secs => \(leaseSeconds)::float8)
                FROM candidates
                ON CONFLICT (cluster) DO UPDATE SET
                    next_check_at = CASE WHEN least(h.next_check_at, h.checked_at + (excluded.next_check_at - now())) + (excluded.next_check_at - now()) > now()
                                         THEN least(h.next_check_at, h.checked_at + (excluded.next_check_at - now())) + (excluded.next_check_at - now())
                                         ELSE excluded.next_check_at END,
                    lease_owner = excluded.lease_owner, lease_token = excluded.lease_token, lease_until = excluded.lease_until
                WHERE least(h.next_check_at, h.checked_at + (excluded.next_check_at - now())) <= now()
                  AND (h.lease_until IS NULL OR h.lease_until < now())
                RETURNING h.cluster, h.lease_token
            )
            SELECT c.cluster, k.api_endpoint, k.api_ca_certificate, c.lease_token
            FROM claimed c JOIN clusters k ON k.name = c.cluster ORDER BY c.cluster
            """, logger: logger)
        var claims: [ClusterHealthClaim] = []
        for try await (cluster, endpoint, ca, token) in rows.decode((String, String?, String?, UUID).self) {
            claims.append(ClusterHealthClaim(cluster: cluster, apiEndpoint: endpoint, caCertificate: ca, token: token))
        }
        return claims
    }

    /// Records a result under the claim `token` (the latest result, its status change, a history row) and
    /// deletes the cluster's history older than `retentionSeconds`, in one statement. `checkedAt` is the
    /// database's time. Returns false, recording nothing, when the claim is no longer held (its lease ran
    /// out and another worker claimed the cluster).
    package func recordClusterHealth(_ result: ClusterHealthResult, token: UUID, retentionSeconds: Double) async throws -> Bool {
        let checks = try KajiJSON.string(result.checks)
        let status = result.status
        let failure = result.failure?.rawValue
        let count = try await count("""
            WITH latest AS (
                UPDATE cluster_health SET
                    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
                    checked_at = now(), checked_by = \(result.checkedBy), up = \(result.up), passed = \(result.passed),
                    failure = \(failure), reason = \(result.reason), http_status = \(result.httpStatus),
                    duration_seconds = \(result.durationSeconds), checks = \(checks)::text::jsonb,
                    previous_status = CASE WHEN status IS DISTINCT FROM \(status) THEN status ELSE previous_status END,
                    status_since = CASE WHEN status IS DISTINCT FROM \(status) THEN now() ELSE status_since END,
                    status = \(status)
                WHERE cluster = \(result.cluster) AND lease_token = \(token)
                RETURNING cluster
            ), history AS (
                INSERT INTO cluster_health_checks (cluster, checked_at, checked_by, up, passed, failure, reason, http_status, duration_seconds, checks)
                SELECT cluster, now(), \(result.checkedBy), \(result.up), \(result.passed), \(failure), \(result.reason),
                       \(result.httpStatus), \(result.durationSeconds), \(checks)::text::jsonb
                FROM latest
            ), pruned AS (
                DELETE FROM cluster_health_checks
                WHERE cluster IN (SELECT cluster FROM latest) AND checked_at < now() - make_interval(secs => \(retentionSeconds)::float8)
            )
            SELECT count(*)::int8 FROM latest
            """)
        return count == 1
    }

    // MARK: - Reading

    private static let healthColumns = """
        h.cluster, h.checked_at, h.checked_by, h.up, h.passed, h.failure, h.reason, h.http_status, h.duration_seconds,
        h.checks::text, h.status, h.status_since, h.previous_status, h.next_check_at
        """

    /// The latest result of `cluster` (whatever its state), or with nil, of every cluster not `deleted`, by
    /// name. Clusters never checked are left out.
    package func clusterHealth(cluster: String?) async throws -> [ClusterHealth] {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.healthColumns)
            FROM cluster_health h JOIN clusters k ON k.name = h.cluster
            WHERE h.checked_at IS NOT NULL
              AND (h.cluster = \(cluster) OR (\(cluster)::text IS NULL AND k.state <> 'deleted'))
            ORDER BY h.cluster
            """, logger: logger)
        var result: [ClusterHealth] = []
        for try await row in rows.decode((String, Date, String, Bool, Bool, String?, String?, Int?, Double, String, String, Date, String?, Date).self) {
            let (name, at, by, up, passed, failure, reason, status, duration, checks, summary, since, previous, next) = row
            let latest = ClusterHealthResult(
                cluster: name, checkedAt: at, checkedBy: by, up: up, passed: passed,
                failure: try failure.map { try ClusterHealthFailure.stored($0, column: "cluster_health.failure") },
                reason: reason, httpStatus: status, durationSeconds: duration,
                checks: try KajiJSON.decode([ClusterHealthCheck].self, from: checks))
            result.append(ClusterHealth(cluster: name, latest: latest, status: summary, statusSince: since, previousStatus: previous, nextCheckAt: next))
        }
        return result
    }

    /// A cluster's stored results, newest first, at most `limit`.
    package func clusterHealthHistory(cluster: String, limit: Int) async throws -> [ClusterHealthResult] {
        let rows = try await client.query("""
            SELECT cluster, checked_at, checked_by, up, passed, failure, reason, http_status, duration_seconds, checks::text
            FROM cluster_health_checks WHERE cluster = \(cluster)
            ORDER BY checked_at DESC, id DESC LIMIT \(limit)
            """, logger: logger)
        var result: [ClusterHealthResult] = []
        for try await row in rows.decode((String, Date, String, Bool, Bool, String?, String?, Int?, Double, String).self) {
            let (name, at, by, up, passed, failure, reason, status, duration, checks) = row
            result.append(ClusterHealthResult(
                cluster: name, checkedAt: at, checkedBy: by, up: up, passed: passed,
                failure: try failure.map { try ClusterHealthFailure.stored($0, column: "cluster_health_checks.failure") },
                reason: reason, httpStatus: status, durationSeconds: duration,
                checks: try KajiJSON.decode([ClusterHealthCheck].self, from: checks)))
        }
        return result
    }
}
