import Foundation
import PostgresNIO

/// An API token's row, without its hash.
package struct APITokenRow: Sendable {
    package var name: String
    package var role: String
    package var createdBy: String
    package var createdAt: Date
    package var expiresAt: Date?
    package var revokedAt: Date?
    package var revokedBy: String?
}

extension RunStore {
    /// Stores a token's hash under `name`, with a `token.created` audit event by `actor` in the same
    /// statement; returns nil when the name is taken (by a live or a revoked token), and then records nothing.
    package func insertToken(name: String, role: String, hash: Data, expiresAt: Date?, actor: String) async throws -> APITokenRow? {
        let query: PostgresQuery = try """
            WITH ins AS (
                INSERT INTO api_tokens (name, role, hash, created_by, expires_at)
                VALUES (\(name), \(role), \(hash), \(actor), \(expiresAt))
                ON CONFLICT (name) DO NOTHING
                RETURNING \(unescaped: Self.tokenColumns)
            ), audit AS (
                INSERT INTO audit_events (type, actor, detail)
                SELECT \(literal: AuditEventType.tokenCreated), \(actor), \(unescaped: Self.tokenAuditDetail) FROM ins
            )
            SELECT \(unescaped: Self.tokenColumns) FROM ins
            """
        return try await tokenRows(query).first
    }

    /// Every token (live, expired and revoked), by name.
    package func listTokens() async throws -> [APITokenRow] {
        try await tokenRows("SELECT \(unescaped: Self.tokenColumns) FROM api_tokens ORDER BY name")
    }

    /// Revokes the token `name`, with a `token.revoked` audit event by `actor` in the same statement; returns
    /// its row (already revoked: unchanged, and no second event), or nil when there is none.
    package func revokeToken(name: String, actor: String) async throws -> APITokenRow? {
        let query: PostgresQuery = """
            WITH up AS (
                UPDATE api_tokens SET revoked_at = now(), revoked_by = \(actor)
                WHERE name = \(name) AND revoked_at IS NULL
                RETURNING \(unescaped: Self.tokenColumns)
            ), audit AS (
                INSERT INTO audit_events (type, actor, detail)
                SELECT \(literal: AuditEventType.tokenRevoked), \(actor), \(unescaped: Self.tokenAuditDetail) FROM up
            )
            SELECT \(unescaped: Self.tokenColumns) FROM up
            UNION ALL
            SELECT \(unescaped: Self.tokenColumns) FROM api_tokens WHERE name = \(name) AND NOT EXISTS (SELECT 1 FROM up)
            """
        return try await tokenRows(query).first
    }

    /// The token whose SHA-256 is `hash`, whatever its state, or nil.
    package func token(hash: Data) async throws -> APITokenRow? {
        let query: PostgresQuery = try "SELECT \(unescaped: Self.tokenColumns) FROM api_tokens WHERE hash = \(hash)"
        return try await tokenRows(query).first
    }

    private static let tokenColumns = "name, role, created_by, created_at, expires_at, revoked_at, revoked_by"
    /// What a token's audit event says of it: its name, role and expiry; never the token or its hash.
    private static let tokenAuditDetail = "jsonb_build_object('name', name, 'role', role, 'expiresAt', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

    private func tokenRows(_ query: PostgresQuery) async throws -> [APITokenRow] {
        var result: [APITokenRow] = []
        let rows = try await client.query(query, logger: logger)
        for try await (name, role, by, at, expires, revoked, revokedBy) in rows.decode((String, String, String, Date, Date?, Date?, String?).self) {
            result.append(APITokenRow(name: name, role: role, createdBy: by, createdAt: at, expiresAt: expires, revokedAt: revoked, revokedBy: revokedBy))
        }
        return result
    }
}
