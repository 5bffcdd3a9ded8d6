import Engine
import Foundation

/// A run that is working on a cluster now (not finished), found by the cluster's concurrency key.
public struct ActiveClusterRun: Codable, Sendable, Equatable {
    public var id: UUID
    public var kind: String
    public var state: RunState
    public var idempotencyKey: String?

    public init(id: UUID, kind: String, state: RunState, idempotencyKey: String?) {
        self.id = id
        self.kind = kind
        self.state = state
        self.idempotencyKey = idempotencyKey
    }
}

extension ClusterInventory {
    /// The unfinished runs carrying `cluster:NAME` (pending, running, waiting or retrying), oldest first.
    /// `kaji apply` looks here before enqueueing: the inventory only learns of a cluster when provisioning
    /// ends.
    public func activeRuns(cluster name: String) async throws -> [ActiveClusterRun] {
        try await store.unfinishedRuns(concurrencyKey: "cluster:\(name)").map {
            ActiveClusterRun(id: $0.id, kind: $0.kind, state: $0.state, idempotencyKey: $0.idempotencyKey)
        }
    }
}
