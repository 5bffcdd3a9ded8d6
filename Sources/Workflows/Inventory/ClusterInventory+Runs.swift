import Engine
import Foundation
import PostgresNIO

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
        let key = "cluster:\(name)"
        let rows = try await client.query("""
            SELECT id, kind, state, idempotency_key FROM runs
            WHERE concurrency_key = \(key) AND state IN ('pending', 'retrying', 'waiting', 'running')
            ORDER BY id
            """, logger: logger)
        var runs: [ActiveClusterRun] = []
        for try await (id, kind, state, idempotencyKey) in rows.decode((UUID, String, String, String?).self) {
            runs.append(ActiveClusterRun(id: id, kind: kind, state: RunState(rawValue: state) ?? .pending, idempotencyKey: idempotencyKey))
        }
        return runs
    }
}
