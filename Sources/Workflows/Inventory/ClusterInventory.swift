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

/// The `clusters` table: what Kaji built. All SQL of the inventory lives here.
///
/// Steps write the inventory only through `on(_:)` inside `StepContext.fenced`, so that a write commits
/// together with the check that the worker still holds the run (a worker that lost its lease changes
/// nothing). Changes that depend on what the row holds are single conditional statements, never a read
/// followed by a blind write.
public struct ClusterInventory: Sendable {
    public let client: GuardedClient
    public let logger: Logger
    /// Set by `on(_:)`: statements run on this connection (inside its transaction) instead of the pool.
    let connection: PostgresConnection?

    public init(client: PostgresClient, logger: Logger) {
        self.init(client: GuardedClient(client), logger: logger)
    }

    public init(client: GuardedClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.connection = nil
    }

    public init(store: RunStore) {
        self.init(client: store.client, logger: store.logger)
    }

    private init(client: GuardedClient, logger: Logger, connection: PostgresConnection) {
        self.client = client
        self.logger = logger
        self.connection = connection
    }

    /// The same inventory, working on `connection` (e.g. the one `StepContext.fenced` hands a step), so that
    /// its statements join that connection's transaction.
    public func on(_ connection: PostgresConnection) -> ClusterInventory {
        ClusterInventory(client: client, logger: logger, connection: connection)
    }

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> BufferedRows<PostgresRow> {
        if let connection { return try await connection.guardedQuery(query, logger: logger) }
        return try await client.query(query, logger: logger)
    }

    /// Creates or replaces a cluster's record.
    public func upsert(_ record: ClusterRecord) async throws {
        let spec = try KajiJSON.string(record.spec)
        let nodes = try KajiJSON.string(record.nodes)
        _ = try await query("""
            INSERT INTO clusters (name, zone, spec, state, switch_id, api_endpoint, nodes, owner_team, last_run_id, updated_at)
            VALUES (\(record.name), \(record.zone), \(spec)::text::jsonb, \(record.state), \(record.switchID), \(record.apiEndpoint),
                    \(nodes)::text::jsonb, \(record.ownerTeam), \(record.lastRunID), now())
            ON CONFLICT (name) DO UPDATE SET
                zone = excluded.zone, spec = excluded.spec, state = excluded.state, switch_id = excluded.switch_id,
                api_endpoint = excluded.api_endpoint, nodes = excluded.nodes, owner_team = excluded.owner_team,
                last_run_id = excluded.last_run_id, updated_at = now()
            """)
    }

    /// Creates a cluster's record, or replaces one that is `deleted` or `failed` or was written by the same
    /// run (`record.lastRunID`), in one statement. Returns nil when it wrote, else the state of the record
    /// that another run holds (nothing is changed then).
    public func claim(_ record: ClusterRecord) async throws -> String? {
        let spec = try KajiJSON.string(record.spec)
        let nodes = try KajiJSON.string(record.nodes)
        let rows = try await query("""
            INSERT INTO clusters (name, zone, spec, state, switch_id, api_endpoint, nodes, owner_team, last_run_id, updated_at)
            VALUES (\(record.name), \(record.zone), \(spec)::text::jsonb, \(record.state), \(record.switchID), \(record.apiEndpoint),
                    \(nodes)::text::jsonb, \(record.ownerTeam), \(record.lastRunID), now())
            ON CONFLICT (name) DO UPDATE SET
                zone = excluded.zone, spec = excluded.spec, state = excluded.state, switch_id = excluded.switch_id,
                api_endpoint = excluded.api_endpoint, nodes = excluded.nodes, owner_team = excluded.owner_team,
                last_run_id = excluded.last_run_id, updated_at = now()
            WHERE clusters.last_run_id IS NOT DISTINCT FROM excluded.last_run_id OR clusters.state IN ('deleted', 'failed')
            RETURNING name
            """)
        for try await _ in rows.decode(String.self) { return nil }
        return try await get(record.name)?.state ?? "unknown"
    }

    /// Sets a cluster's state (and the run that set it).
    public func setState(_ name: String, state: String, runID: UUID?) async throws {
        _ = try await query("UPDATE clusters SET state = \(state), last_run_id = coalesce(\(runID), last_run_id), updated_at = now() WHERE name = \(name)")
    }

    /// Moves a cluster from one of `from` to `state`, only if it is in one of them and, when `heldBy` is
    /// given, its last run is `heldBy`; marks `runID` as its last run. One statement; returns whether it
    /// changed the record.
    @discardableResult
    public func transition(_ name: String, from: [String], heldBy: UUID? = nil, to state: String, runID: UUID) async throws -> Bool {
        let rows = try await query("""
            UPDATE clusters SET state = \(state), last_run_id = \(runID), updated_at = now()
            WHERE name = \(name) AND state = ANY(\(from)::text[]) AND (\(heldBy)::uuid IS NULL OR last_run_id = \(heldBy)::uuid)
            RETURNING name
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Adds `nodes` to a cluster's record (replacing nodes of the same names), sets its manifest and state,
    /// in one statement, so that a change made to the record meanwhile is kept. Returns false when the
    /// cluster is not in the inventory.
    public func addNodes(_ name: String, nodes: [ClusterNode], spec: ClusterSpec, state: String, runID: UUID) async throws -> Bool {
        let added = try KajiJSON.string(nodes)
        let names = nodes.map(\.name)
        let specJSON = try KajiJSON.string(spec)
        let rows = try await query("""
            UPDATE clusters SET
                nodes = coalesce((SELECT jsonb_agg(n.node ORDER BY n.position) FROM jsonb_array_elements(clusters.nodes) WITH ORDINALITY AS n(node, position)
                                  WHERE NOT (n.node->>'name' = ANY(\(names)::text[]))), '[]'::jsonb) || \(added)::text::jsonb,
                spec = \(specJSON)::text::jsonb, state = \(state), last_run_id = \(runID), updated_at = now()
            WHERE name = \(name)
            RETURNING name
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// One cluster, or nil.
    public func get(_ name: String) async throws -> ClusterRecord? {
        let rows = try await query("""
            SELECT name, zone, spec::text, state, switch_id, api_endpoint, nodes::text, owner_team, last_run_id, created_at, updated_at
            FROM clusters WHERE name = \(name)
            """)
        for try await row in rows.decode((String, String, String, String, String?, String?, String, String?, UUID?, Date, Date).self) {
            return try Self.record(row)
        }
        return nil
    }

    /// Every cluster, by name.
    public func list() async throws -> [ClusterRecord] {
        let rows = try await query("""
            SELECT name, zone, spec::text, state, switch_id, api_endpoint, nodes::text, owner_team, last_run_id, created_at, updated_at
            FROM clusters ORDER BY name
            """)
        var records: [ClusterRecord] = []
        for try await row in rows.decode((String, String, String, String, String?, String?, String, String?, UUID?, Date, Date).self) {
            records.append(try Self.record(row))
        }
        return records
    }

    private static func record(_ row: (String, String, String, String, String?, String?, String, String?, UUID?, Date, Date)) throws -> ClusterRecord {
        ClusterRecord(name: row.0, zone: row.1, spec: try KajiJSON.decode(ClusterSpec.self, from: row.2), state: row.3, switchID: row.4,
                      apiEndpoint: row.5, nodes: try KajiJSON.decode([ClusterNode].self, from: row.6), ownerTeam: row.7,
                      lastRunID: row.8, createdAt: row.9, updatedAt: row.10)
    }
}
