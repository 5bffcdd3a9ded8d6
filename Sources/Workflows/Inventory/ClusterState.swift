import Engine
import Foundation

/// The states of a cluster in the inventory (`clusters.state`, limited to these by the schema).
public enum ClusterState: String, Codable, Sendable, CaseIterable, StoredEnum {
    /// Its provision run is building it.
    case provisioning
    /// Built and serving.
    case ready
    /// A scale-out run is adding nodes.
    case scaling
    /// A delete run is tearing it down.
    case deleting
    /// Torn down; its name can be provisioned again.
    case deleted
    /// Its last operation failed for good; `kaji retry` of that run or a delete recovers it.
    case failed
}

extension ClusterRecord {
    /// `state` as a `ClusterState` (nil only for a record built in memory with a state the inventory does
    /// not know; records read from the inventory always have one).
    public var clusterState: ClusterState? { ClusterState(rawValue: state) }

    /// A record in state `state`.
    public init(name: String, zone: String, spec: ClusterSpec, state: ClusterState, switchID: String?, apiEndpoint: String?, nodes: [ClusterNode],
                ownerTeam: String?, lastRunID: UUID?, createdAt: Date, updatedAt: Date) {
        self.init(name: name, zone: zone, spec: spec, state: state.rawValue, switchID: switchID, apiEndpoint: apiEndpoint, nodes: nodes,
                  ownerTeam: ownerTeam, lastRunID: lastRunID, createdAt: createdAt, updatedAt: updatedAt)
    }
}
