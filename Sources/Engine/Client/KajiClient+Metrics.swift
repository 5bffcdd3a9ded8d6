import Foundation

extension KajiClient {
    /// The queue, workers and waits as the database has them now (`kaji serve`'s `/metrics` computes these
    /// once per scrape): runs per queue and unfinished state with the age of the oldest due one, waiting
    /// runs by what they wait for, runs waiting for an approval and for how long, live workers and their
    /// last heartbeat.
    public func databaseGauges() async throws -> DatabaseGauges {
        try await store.databaseGauges()
    }

    /// For each cluster of the inventory that is `ready` or `scaling`: when a run of `kind` (e.g.
    /// `cluster.backup`) for it last succeeded, or when the cluster was created if none has. Reads all
    /// succeeded runs of the kind; cache the answer.
    public func clusterLastSuccess(kind: String) async throws -> [ClusterLastSuccess] {
        try await store.clusterLastSuccess(kind: kind)
    }
}
