import Foundation

extension KajiClient {
    /// The runs waiting for an operator's approval (`waitForApproval`), oldest first, at most `query.limit`,
    /// with `query`'s kind, concurrency key and actor filters (its state, queue and cursor are not used: such
    /// a run is `waiting`). Errors name `limit`.
    public func runsAwaitingApproval(_ query: RunQuery) async throws -> [RunSummary] {
        try Self.validate(query.limit, in: 1...10_000, field: "limit")
        if let state = query.state, state != .waiting { return [] }
        let ids = try await store.runIDsAwaitingApproval(signal: Self.approvalSignal, kind: query.kind, concurrencyKey: query.concurrencyKey,
                                                         actor: query.actor, limit: query.limit)
        var runs: [RunSummary] = []
        for id in ids {
            // A run pruned between the two reads is left out.
            if let run = try await store.run(id: id) { runs.append(run) }
        }
        return runs
    }
}
