import Foundation

extension KajiClient {
    /// Parses an age such as `30d`, `12h`, `1d12h`; the error (`invalidArgument`) names `field` (default
    /// `olderThan`).
    public static func age(_ text: String, field: String = "olderThan") throws -> Duration {
        do {
            return try RetentionAge.parse(text, option: field)
        } catch let error as KajiError {
            throw error.naming(field: field)
        }
    }

    /// Deletes finished runs (succeeded, failed, cancelled) that ended more than `age` ago, with their steps
    /// and payloads, `batchSize` per statement (default 500, 1...10000, field `batchSize`); audit events
    /// stay. Runs a cluster's inventory names as its last operation, and runs with an idempotency key within
    /// its 24-hour window, are kept.
    public func prune(olderThan age: Duration, batchSize: Int = 500, actor: String) async throws -> PruneResult {
        try Self.validate(batchSize, in: 1...10_000, field: "batchSize")
        return try await store.pruneFinishedRuns(olderThan: age, actor: actor, batchSize: batchSize)
    }
}
