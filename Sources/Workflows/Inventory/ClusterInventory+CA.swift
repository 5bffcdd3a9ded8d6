import Engine
import Foundation

extension ClusterInventory {
    /// Pins a cluster's CA (PEM; nil forgets it): the only root the API health checker trusts for it.
    /// Returns false when the cluster is not in the inventory.
    @discardableResult
    public func pinCA(_ name: String, pem: String?) async throws -> Bool {
        try await store.setClusterCACertificate(name: name, pem: pem, on: connection)
    }

    /// A cluster's pinned CA (PEM), or nil.
    public func pinnedCA(_ name: String) async throws -> String? {
        try await store.clusterCACertificate(name: name, on: connection)
    }
}
