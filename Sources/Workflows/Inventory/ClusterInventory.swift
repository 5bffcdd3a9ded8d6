import Engine
import Foundation
import Logging
import PostgresNIO

/// A node as the inventory knows it.
public struct ClusterNode: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case master, worker }
    /// e.g. `prod-a-master-1`.
    public var name: String
    public var role: Role
    public var serverID: String
    public var diskID: String?
    /// The node's private address on the cluster switch.
    public var address: String
    /// How to reach it over SSH.
    public var sshHost: String
    public var sshPort: Int
    public var sshUser: String
    /// SSH `env` variables (simulated nodes are told apart by these).
    public var sshEnvironment: [String: String]

    public init(name: String, role: Role, serverID: String, diskID: String? = nil, address: String, sshHost: String, sshPort: Int, sshUser: String, sshEnvironment: [String: String] = [:]) {
        self.name = name
        self.role = role
        self.serverID = serverID
        self.diskID = diskID
        self.address = address
        self.sshHost = sshHost
        self.sshPort = sshPort
        self.sshUser = sshUser
        self.sshEnvironment = sshEnvironment
    }
}

/// A cluster as the inventory knows it.
public struct ClusterRecord: Codable, Sendable {
    public var name: String
    public var zone: String
    public var spec: ClusterSpec
    public var state: String
    public var switchID: String?
    public var apiEndpoint: String?
    public var nodes: [ClusterNode]
    public var ownerTeam: String?
    public var lastRunID: UUID?
    public var createdAt: Date
    public var updatedAt: Date
}

/// The `clusters` table: what Kaji built. Its SQL lives in the store (`RunStore+Clusters`); this type gives
/// the rows their meaning (`ClusterRecord`).
///
/// Steps write the inventory only through `on(_:)` inside `StepContext.fenced`, so that a write commits
/// together with the check that the worker still holds the run (a worker that lost its lease changes
/// nothing). Changes that depend on what the row holds are single conditional statements, never a read
/// followed by a blind write.
public struct ClusterInventory: Sendable {
    let store: RunStore
    /// Set by `on(_:)`: statements run on this connection (inside its transaction) instead of the pool.
    let connection: PostgresConnection?

    public var client: GuardedClient { store.client }
    public var logger: Logger { store.logger }

    public init(client: PostgresClient, logger: Logger) {
        // The inventory's statements use neither the schema's name nor its notification channel: the
        // client's connections find the tables through their search_path.
        self.init(store: RunStore(client: client, config: DatabaseConfig(), logger: logger))
    }

    package init(store: RunStore) {
        self.store = store
        self.connection = nil
    }

    private init(store: RunStore, connection: PostgresConnection) {
        self.store = store
        self.connection = connection
    }

    /// The same inventory, working on `connection` (e.g. the one `StepContext.fenced` hands a step), so that
    /// its statements join that connection's transaction.
    public func on(_ connection: PostgresConnection) -> ClusterInventory {
        ClusterInventory(store: store, connection: connection)
    }

    /// Creates or replaces a cluster's record.
    public func upsert(_ record: ClusterRecord) async throws {
        try await store.upsertCluster(try Self.row(record), on: connection)
    }

    /// Creates a cluster's record, or replaces one that is `deleted` or `failed` or was written by the same
    /// run (`record.lastRunID`), in one statement. Returns nil when it wrote, else the state of the record
    /// that another run holds (nothing is changed then).
    public func claim(_ record: ClusterRecord) async throws -> String? {
        if try await store.upsertCluster(try Self.row(record), replacingOnly: [ClusterState.deleted, .failed].map(\.rawValue), on: connection) { return nil }
        return try await get(record.name)?.state ?? "unknown"
    }

    /// Sets a cluster's state (and the run that set it).
    public func setState(_ name: String, state: ClusterState, runID: UUID?) async throws {
        try await store.setClusterState(name: name, state: state.rawValue, runID: runID, on: connection)
    }

    /// ``setState(_:state:runID:)`` with the state's stored name; fails (`invalidArgument`) for a name that
    /// is not a `ClusterState`.
    public func setState(_ name: String, state: String, runID: UUID?) async throws {
        try await setState(name, state: try Self.state(state), runID: runID)
    }

    /// Moves a cluster from one of `from` to `state`, only if it is in one of them and, when `heldBy` is
    /// given, its last run is `heldBy`; marks `runID` as its last run. One statement; returns whether it
    /// changed the record.
    @discardableResult
    public func transition(_ name: String, from: [ClusterState], heldBy: UUID? = nil, to state: ClusterState, runID: UUID) async throws -> Bool {
        try await store.transitionCluster(name: name, from: from.map(\.rawValue), heldBy: heldBy, to: state.rawValue, runID: runID, on: connection)
    }

    /// ``transition(_:from:heldBy:to:runID:)`` with the states' stored names; fails (`invalidArgument`) for
    /// a name that is not a `ClusterState`.
    @discardableResult
    public func transition(_ name: String, from: [String], heldBy: UUID? = nil, to state: String, runID: UUID) async throws -> Bool {
        try await transition(name, from: try from.map(Self.state), heldBy: heldBy, to: try Self.state(state), runID: runID)
    }

    /// Adds `nodes` to a cluster's record (replacing nodes of the same names), sets its manifest and state,
    /// in one statement, so that a change made to the record meanwhile is kept. Returns false when the
    /// cluster is not in the inventory.
    public func addNodes(_ name: String, nodes: [ClusterNode], spec: ClusterSpec, state: ClusterState, runID: UUID) async throws -> Bool {
        try await store.addClusterNodes(name: name, nodes: try KajiJSON.string(nodes), nodeNames: nodes.map(\.name),
                                        spec: try KajiJSON.string(spec), state: state.rawValue, runID: runID, on: connection)
    }

    /// ``addNodes(_:nodes:spec:state:runID:)`` with the state's stored name; fails (`invalidArgument`) for a
    /// name that is not a `ClusterState`.
    public func addNodes(_ name: String, nodes: [ClusterNode], spec: ClusterSpec, state: String, runID: UUID) async throws -> Bool {
        try await addNodes(name, nodes: nodes, spec: spec, state: try Self.state(state), runID: runID)
    }

    /// One cluster, or nil.
    public func get(_ name: String) async throws -> ClusterRecord? {
        try await store.cluster(name: name, on: connection).map(Self.record)
    }

    /// Every cluster, by name.
    public func list() async throws -> [ClusterRecord] {
        try await store.listClusters(on: connection).map(Self.record)
    }

    private static func state(_ name: String) throws -> ClusterState {
        guard let state = ClusterState(rawValue: name) else {
            throw KajiError(.invalidArgument, "'\(name)' is not a cluster state (known: \(ClusterState.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return state
    }

    private static func row(_ record: ClusterRecord) throws -> ClusterRow {
        ClusterRow(name: record.name, zone: record.zone, spec: try KajiJSON.string(record.spec), state: try state(record.state).rawValue, switchID: record.switchID,
                   apiEndpoint: record.apiEndpoint, nodes: try KajiJSON.string(record.nodes), ownerTeam: record.ownerTeam, lastRunID: record.lastRunID)
    }

    private static func record(_ row: ClusterRow) throws -> ClusterRecord {
        ClusterRecord(name: row.name, zone: row.zone, spec: try KajiJSON.decode(ClusterSpec.self, from: row.spec),
                      state: try ClusterState.stored(row.state, column: "clusters.state"), switchID: row.switchID,
                      apiEndpoint: row.apiEndpoint, nodes: try KajiJSON.decode([ClusterNode].self, from: row.nodes), ownerTeam: row.ownerTeam,
                      lastRunID: row.lastRunID, createdAt: row.createdAt, updatedAt: row.updatedAt)
    }
}
