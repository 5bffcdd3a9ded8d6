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
    /// Stores a token's hash under `name`; returns nil when the name is taken (by a live or a revoked token).
    package func insertToken(name: String, role: String, hash: Data, expiresAt: Date?, actor: String) async throws -> APITokenRow? {
        let query: PostgresQuery = try """
            INSERT INTO api_tokens (name, role, hash, created_by, expires_at)
            VALUES (\(name), \(role), \(hash), \(actor), \(expiresAt))
            ON CONFLICT (name) DO NOTHING
            RETURNING \(unescaped: Self.tokenColumns)
            """
        return try await tokenRows(query).first
    }

    /// Every token (live, expired and revoked), by name.
    package func listTokens() async throws -> [APITokenRow] {
        try await tokenRows("SELECT \(unescaped: Self.tokenColumns) FROM api_tokens ORDER BY name")
    }

    /// Revokes the token `name`; returns its row (already revoked: unchanged), or nil when there is none.
    package func revokeToken(name: String, actor: String) async throws -> APITokenRow? {
        let query: PostgresQuery = """
            WITH up AS (
                UPDATE api_tokens SET revoked_at = now(), revoked_by = \(actor)
                WHERE name = \(name) AND revoked_at IS NULL
                RETURNING \(unescaped: Self.tokenColumns)
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

    private func tokenRows(_ query: PostgresQuery) async throws -> [APITokenRow] {
        var result: [APITokenRow] = []
        let rows = try await client.query(query, logger: logger)
        for try await (name, role, by, at, expires, revoked, revokedBy) in rows.decode((String, String, String, Date, Date?, Date?, String?).self) {
            result.append(APITokenRow(name: name, role: role, createdBy: by, createdAt: at, expiresAt: expires, revokedAt: revoked, revokedBy: revokedBy))
        }
        return result
    }
}
