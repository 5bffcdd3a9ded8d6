import Engine
import Foundation

extension ClusterInventory {
    /// The states in which `kaji apply` may change a cluster's settings (`setHealthCheck`).
    public static let settingStates: [ClusterState] = [.provisioning, .ready, .scaling]

    /// Sets the `healthCheck` of a cluster's recorded manifest (nil removes it: the defaults), keeping the
    /// rest of the manifest, in one statement and only while the cluster is provisioning, ready or scaling.
    /// The health checkers read it at their next look (`ClusterHealthChecker`). Returns false, changing
    /// nothing, when the cluster is not in the inventory or in another state.
    public func setHealthCheck(_ name: String, _ healthCheck: ClusterSpec.HealthCheck?) async throws -> Bool {
        try await store.setClusterSpecField(name: name, key: "healthCheck", value: try healthCheck.map { try KajiJSON.string($0) },
                                            states: Self.settingStates.map(\.rawValue), on: connection)
    }
}
