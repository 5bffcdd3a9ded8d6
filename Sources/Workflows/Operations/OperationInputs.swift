import Foundation

/// The stable kind strings of the cluster operations. A kind never changes when a type is renamed: it is what
/// the `runs` table, the audit trail, `kaji apply` and the schedules name.
public enum ClusterKinds {
    /// Create a cluster from its manifest (`ProvisionInput`).
    public static let provision = "cluster.provision"
    /// Raise masters or workers to the manifest's replicas (`ScaleOutInput`).
    public static let scaleOut = "cluster.scale-out"
    /// A Velero backup of a cluster.
    public static let backup = "cluster.backup"
    /// A Velero restore from a named backup.
    public static let restore = "cluster.restore"
    /// Rotate the Argo CD admin password.
    public static let rotatePassword = "cluster.rotate-password"
    /// Tear a cluster down.
    public static let delete = "cluster.delete"
    // No kind for the API health checks: they are not runs but claims made by each worker's
    // `ClusterHealthChecker` (see why there).
}

/// The input of `cluster.provision`: the validated manifest of a cluster that does not exist yet.
public struct ProvisionInput: Codable, Sendable, Equatable {
    public var spec: ClusterSpec

    public init(spec: ClusterSpec) {
        self.spec = spec
    }
}

/// The input of `cluster.scale-out`: the validated manifest whose `masters.replicas` and/or
/// `workers.replicas` are larger than the inventory's; only the missing nodes are created and joined.
public struct ScaleOutInput: Codable, Sendable, Equatable {
    public var spec: ClusterSpec

    public init(spec: ClusterSpec) {
        self.spec = spec
    }
}
