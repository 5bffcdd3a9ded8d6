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
public struct ClusterInventory: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public init(store: RunStore) {
        self.init(client: store.client, logger: store.logger)
    }

    /// Creates or replaces a cluster's record.
    public func upsert(_ record: ClusterRecord) async throws {
        let spec = try KajiJSON.string(record.spec)
        let nodes = try KajiJSON.string(record.nodes)
        try await client.query("""
            INSERT INTO clusters (name, zone, spec, state, switch_id, api_endpoint, nodes, owner_team, last_run_id, updated_at)
            VALUES (\(record.name), \(record.zone), \(spec)::text::jsonb, \(record.state), \(record.switchID), \(record.apiEndpoint),
                    \(nodes)::text::jsonb, \(record.ownerTeam), \(record.lastRunID), now())
            ON CONFLICT (name) DO UPDATE SET
                zone = excluded.zone, spec = excluded.spec, state = excluded.state, switch_id = excluded.switch_id,
                api_endpoint = excluded.api_endpoint, nodes = excluded.nodes, owner_team = excluded.owner_team,
                last_run_id = excluded.last_run_id, updated_at = now()
            """, logger: logger)
    }

    /// Sets a cluster's state (and the run that set it).
    public func setState(_ name: String, state: String, runID: UUID?) async throws {
        try await client.query("UPDATE clusters SET state = \(state), last_run_id = coalesce(\(runID), last_run_id), updated_at = now() WHERE name = \(name)", logger: logger)
    }

    /// One cluster, or nil.
    public func get(_ name: String) async throws -> ClusterRecord? {
        let rows = try await client.query("""
            SELECT name, zone, spec::text, state, switch_id, api_endpoint, nodes::text, owner_team, last_run_id, created_at, updated_at
            FROM clusters WHERE name = \(name)
            """, logger: logger)
        for try await row in rows.decode((String, String, String, String, String?, String?, String, String?, UUID?, Date, Date).self) {
            return try Self.record(row)
        }
        return nil
    }

    /// Every cluster, by name.
    public func list() async throws -> [ClusterRecord] {
        let rows = try await client.query("""
            SELECT name, zone, spec::text, state, switch_id, api_endpoint, nodes::text, owner_team, last_run_id, created_at, updated_at
            FROM clusters ORDER BY name
            """, logger: logger)
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
