import Foundation
import PostgresNIO

/// A row of the `clusters` table (the cluster inventory) as the store reads and writes it: the manifest
/// and the nodes as JSON text, the state as its stored string. The cluster workflows give it meaning
/// (`ClusterInventory`, `ClusterRecord`); the engine knows nothing of clusters beyond this row.
public struct ClusterRow: Sendable, Equatable {
    public var name: String
    public var zone: String
    /// The manifest last applied, as JSON text.
    public var spec: String
    public var state: String
    public var switchID: String?
    public var apiEndpoint: String?
    /// The nodes, as a JSON array.
    public var nodes: String
    public var ownerTeam: String?
    public var lastRunID: UUID?
    /// Set by the database (ignored on writes).
    public var createdAt: Date
    /// Set by the database (ignored on writes).
    public var updatedAt: Date

    public init(name: String, zone: String, spec: String, state: String, switchID: String?, apiEndpoint: String?, nodes: String,
                ownerTeam: String?, lastRunID: UUID?, createdAt: Date = Date(), updatedAt: Date = Date()) {
        self.name = name
        self.zone = zone
        self.spec = spec
        self.state = state
        self.switchID = switchID
        self.apiEndpoint = apiEndpoint
        self.nodes = nodes
        self.ownerTeam = ownerTeam
        self.lastRunID = lastRunID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The cluster inventory's statements. Each takes an optional connection: a step passes the one of its
/// fenced transaction (`RunStore.fenced`, `StepContext.fenced`), so that the write commits together with
/// the check that the worker still holds the run; without one, a pooled connection is used. Changes that
/// depend on what the row holds are single conditional statements, never a read followed by a blind write.
extension RunStore {
    private static let clusterColumns = "name, zone, spec::text, state, switch_id, api_endpoint, nodes::text, owner_team, last_run_id, created_at, updated_at"

    private typealias ClusterTuple = (String, String, String, String, String?, String?, String, String?, UUID?, Date, Date)

    private static func clusterRow(_ t: ClusterTuple) -> ClusterRow {
        ClusterRow(name: t.0, zone: t.1, spec: t.2, state: t.3, switchID: t.4, apiEndpoint: t.5, nodes: t.6, ownerTeam: t.7,
                   lastRunID: t.8, createdAt: t.9, updatedAt: t.10)
    }

    /// Creates or replaces a cluster's row, in one statement. With `replacingOnly` set, an existing row is
    /// replaced only when its state is one of those (e.g. `deleted`, `failed`) or it was written by the same
    /// run (`row.lastRunID`); otherwise it is kept as it is. Returns whether the row was written.
    @discardableResult
    package func upsertCluster(_ row: ClusterRow, replacingOnly states: [String]? = nil, on connection: PostgresConnection? = nil) async throws -> Bool {
        let rows = try await query("""
            INSERT INTO clusters (name, zone, spec, state, switch_id, api_endpoint, nodes, owner_team, last_run_id, updated_at)
            VALUES (\(row.name), \(row.zone), \(row.spec)::text::jsonb, \(row.state), \(row.switchID), \(row.apiEndpoint),
                    \(row.nodes)::text::jsonb, \(row.ownerTeam), \(row.lastRunID), now())
            ON CONFLICT (name) DO UPDATE SET
                zone = excluded.zone, spec = excluded.spec, state = excluded.state, switch_id = excluded.switch_id,
                api_endpoint = excluded.api_endpoint, nodes = excluded.nodes, owner_team = excluded.owner_team,
                last_run_id = excluded.last_run_id, updated_at = now()
            WHERE \(states)::text[] IS NULL
               OR clusters.last_run_id IS NOT DISTINCT FROM excluded.last_run_id OR clusters.state = ANY(\(states)::text[])
            RETURNING name
            """, on: connection)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Sets a cluster's state (and the run that set it, when given).
    package func setClusterState(name: String, state: String, runID: UUID?, on connection: PostgresConnection? = nil) async throws {
        _ = try await query("""
            UPDATE clusters SET state = \(state), last_run_id = coalesce(\(runID), last_run_id), updated_at = now() WHERE name = \(name)
            """, on: connection)
    }

    /// Moves a cluster from one of `from` to `state`, only if it is in one of them and, when `heldBy` is
    /// given, its last run is `heldBy`; marks `runID` as its last run. Returns whether it changed the row.
    package func transitionCluster(name: String, from: [String], heldBy: UUID?, to state: String, runID: UUID, on connection: PostgresConnection? = nil) async throws -> Bool {
        let rows = try await query("""
            UPDATE clusters SET state = \(state), last_run_id = \(runID), updated_at = now()
            WHERE name = \(name) AND state = ANY(\(from)::text[]) AND (\(heldBy)::uuid IS NULL OR last_run_id = \(heldBy)::uuid)
            RETURNING name
            """, on: connection)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Adds `nodes` (a JSON array of objects with a `name`) to a cluster's row, replacing nodes of the same
    /// names and keeping the others in order, and sets its manifest, state and last run, in one statement.
    /// Returns false when there is no such cluster.
    package func addClusterNodes(name: String, nodes: String, nodeNames: [String], spec: String, state: String, runID: UUID,
                                on connection: PostgresConnection? = nil) async throws -> Bool {
        let rows = try await query("""
            UPDATE clusters SET
                nodes = coalesce((SELECT jsonb_agg(n.node ORDER BY n.position) FROM jsonb_array_elements(clusters.nodes) WITH ORDINALITY AS n(node, position)
                                  WHERE NOT (n.node->>'name' = ANY(\(nodeNames)::text[]))), '[]'::jsonb) || \(nodes)::text::jsonb,
                spec = \(spec)::text::jsonb, state = \(state), last_run_id = \(runID), updated_at = now()
            WHERE name = \(name)
            RETURNING name
            """, on: connection)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Sets one top-level field `key` of a cluster's manifest to the JSON `value` (removes it when nil),
    /// only while the cluster's state is one of `states`, in one statement; the rest of the manifest is kept
    /// as it is. Returns whether it changed the row (false: no such cluster, or in another state).
    package func setClusterSpecField(name: String, key: String, value: String?, states: [String],
                                     on connection: PostgresConnection? = nil) async throws -> Bool {
        let rows = try await query("""
            UPDATE clusters SET
                spec = CASE WHEN \(value)::text IS NULL THEN spec - \(key)::text
                            ELSE jsonb_set(spec, ARRAY[\(key)::text], \(value)::text::jsonb) END,
                updated_at = now()
            WHERE name = \(name) AND state = ANY(\(states)::text[])
            RETURNING name
            """, on: connection)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// One cluster's row, or nil.
    package func cluster(name: String, on connection: PostgresConnection? = nil) async throws -> ClusterRow? {
        let rows = try await query("SELECT \(unescaped: Self.clusterColumns) FROM clusters WHERE name = \(name)", on: connection)
        for try await row in rows.decode(ClusterTuple.self) { return Self.clusterRow(row) }
        return nil
    }

    /// Every cluster's row, by name.
    package func listClusters(on connection: PostgresConnection? = nil) async throws -> [ClusterRow] {
        let rows = try await query("SELECT \(unescaped: Self.clusterColumns) FROM clusters ORDER BY name", on: connection)
        var result: [ClusterRow] = []
        for try await row in rows.decode(ClusterTuple.self) { result.append(Self.clusterRow(row)) }
        return result
    }
}
