import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// `kaji token create` and `kaji token revoke` leave audit events (who, which token, which role) that never
/// hold the token or its hash; the chain verifies with them.
@Suite("Token audit", .timeLimit(.minutes(2)), .needsDatabase)
struct TokenAuditTests {
    @Test("creating and revoking a token are audited with the actor, the name and the role, never the token or its hash")
    func createAndRevoke() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let expires = Date().addingTimeInterval(86_400)
            let created = try await client.createToken(name: "ci-bot", role: .operator, expiresAt: expires, actor: "cli:admin@host")

            let creations = try await client.auditEvents(AuditFilter(type: AuditEventType.tokenCreated.rawValue))
            #expect(creations.count == 1)
            let creation = try #require(creations.first)
            #expect(creation.actor == "cli:admin@host" && creation.runId == nil)
            let detail = try JSONSerialization.jsonObject(with: Data((creation.detail ?? "{}").utf8)) as? [String: Any]
            #expect(detail?["name"] as? String == "ci-bot")
            #expect(detail?["role"] as? String == "operator")
            let recorded = (detail?["expiresAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
            #expect(recorded.map { abs($0.timeIntervalSince(expires)) < 1 } == true, "\(String(describing: detail))")

            // A name that is taken creates nothing and records nothing.
            await #expect(throws: KajiError.self) {
                try await client.createToken(name: "ci-bot", role: .admin, actor: "cli:mallory@host")
            }
            #expect(try await client.auditEvents(AuditFilter(type: AuditEventType.tokenCreated.rawValue)).count == 1)

            try await client.revokeToken(name: "ci-bot", actor: "token:root")
            try await client.revokeToken(name: "ci-bot", actor: "token:root")  // harmless, and not a second event
            let revocations = try await client.auditEvents(AuditFilter(type: AuditEventType.tokenRevoked.rawValue))
            #expect(revocations.count == 1)
            #expect(revocations.first?.actor == "token:root")
            #expect(revocations.first?.detail?.contains(#""name": "ci-bot""#) == true, "\(String(describing: revocations.first?.detail))")
            await #expect(throws: KajiError.self) { try await client.revokeToken(name: "nobody", actor: "token:root") }
            #expect(try await client.auditEvents(AuditFilter(type: AuditEventType.tokenRevoked.rawValue)).count == 1)

            // Neither the token nor its hash (hex or base64) is anywhere in the trail.
            let hash = try await hashOf("ci-bot", db)
            let trail = try await allAuditText(db)
            #expect(!trail.isEmpty)
            for needle in [created.token, String(created.token.dropFirst(KajiClient.tokenPrefix.count)), hash.hex, hash.base64] {
                #expect(!trail.contains(needle), "the audit trail holds a token or its hash")
            }
            let verification = try await client.verifyAudit()
            #expect(verification.ok, "\(String(describing: verification.problem))")
        }
    }

    @Test("a token without expiry is audited with expiresAt null")
    func noExpiry() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            _ = try await client.createToken(name: "viewer-1", role: .viewer, actor: "cli:admin@host")
            let event = try #require(try await client.auditEvents(AuditFilter(type: AuditEventType.tokenCreated.rawValue)).first)
            #expect(event.detail?.contains(#""expiresAt": null"#) == true, "\(String(describing: event.detail))")
            #expect(event.detail?.contains(#""role": "viewer""#) == true)
        }
    }

    private func hashOf(_ name: String, _ db: TestDatabase) async throws -> (hex: String, base64: String) {
        let rows = try await db.store.client.query("SELECT encode(hash, 'hex'), encode(hash, 'base64') FROM api_tokens WHERE name = \(name)", logger: db.logger)
        for try await (hex, base64) in rows.decode((String, String).self) { return (hex, base64) }
        throw KajiTestingError("no token \(name)")
    }

    private func allAuditText(_ db: TestDatabase) async throws -> String {
        let rows = try await db.store.client.query("SELECT string_agg(to_jsonb(a)::text, E'\\n') FROM audit_events AS a", logger: db.logger)
        for try await text in rows.decode(String?.self) { return text ?? "" }
        return ""
    }
}
