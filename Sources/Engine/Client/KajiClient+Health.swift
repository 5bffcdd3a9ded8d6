import Foundation

/// The API health checks through the door: a checker claims the checks that are due and records their
/// results; `kaji serve`'s `/metrics`, `kaji cluster show` and the dashboard read them. Whichever worker
/// checked, the stored result is the same (times are the database's).
extension KajiClient {
    /// Claims the due checks among `candidates` (see `ClusterHealthCandidate`) for `worker`: only clusters
    /// whose inventory state is one of `states` (default `ready`), each at most once per its interval however
    /// many workers ask. A claim is held for `lease` (the check's timeout and some margin); only its holder
    /// may record the result. Errors name `candidates[N].interval` or `lease`.
    public func claimHealthChecks(_ candidates: [ClusterHealthCandidate], states: [String] = ["ready"], worker: String,
                                  lease: Duration) async throws -> [ClusterHealthClaim] {
        for (index, candidate) in candidates.enumerated() where candidate.interval < .milliseconds(100) {
            throw KajiError(.invalidArgument, "the interval of \(candidate.cluster) must be at least 100 ms, got \(candidate.interval)",
                            field: "candidates[\(index)].interval")
        }
        guard lease >= .seconds(1) else {
            throw KajiError(.invalidArgument, "lease must be at least 1 s, got \(lease)", field: "lease")
        }
        return try await store.claimClusterHealthChecks(candidates, states: states, worker: worker,
                                                        leaseSeconds: Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18)
    }

    /// Records a result under a claim; its history is kept for `retention` (default 24 h) and older rows of
    /// that cluster are deleted. Returns false, recording nothing, when the claim was lost (its lease ran out
    /// and another worker claimed the cluster meanwhile). `result.checkedAt` is replaced by the database's
    /// time.
    @discardableResult
    public func recordHealthCheck(_ result: ClusterHealthResult, claim: ClusterHealthClaim, retention: Duration = .seconds(86_400)) async throws -> Bool {
        guard result.cluster == claim.cluster else {
            throw KajiError(.invalidArgument, "the result is for \(result.cluster) but the claim for \(claim.cluster)", field: "result.cluster")
        }
        guard retention >= .seconds(60) else {
            throw KajiError(.invalidArgument, "retention must be at least 60 s, got \(retention)", field: "retention")
        }
        return try await store.recordClusterHealth(result, token: claim.token, retentionSeconds: Double(retention.components.seconds))
    }

    /// The latest health result of every cluster that is not `deleted` and has been checked, by name.
    public func clusterHealth() async throws -> [ClusterHealth] {
        try await store.clusterHealth(cluster: nil)
    }

    /// The latest health result of `cluster` (whatever its state), or nil when it was never checked.
    public func clusterHealth(cluster: String) async throws -> ClusterHealth? {
        try await store.clusterHealth(cluster: cluster).first
    }

    /// `cluster`'s stored results, newest first, at most `limit` (1...10000, default 100; error field `limit`).
    public func clusterHealthHistory(cluster: String, limit: Int = 100) async throws -> [ClusterHealthResult] {
        try Self.validate(limit, in: 1...10_000, field: "limit")
        return try await store.clusterHealthHistory(cluster: cluster, limit: limit)
    }
}
