import Foundation
import PostgresNIO

/// What is known about a stored secret without revealing it.
public struct SecretInfo: Sendable, Codable, Equatable {
    public var secret: Secret
    public var name: String
    public var keyId: String
    public var runId: UUID?
    public var step: String?
    public var createdBy: String
    public var createdAt: Date
}

extension RunStore {
    static func validateSecret(name: String, value: String) throws {
        guard !name.isEmpty, name.count <= 200 else {
            throw KajiError(.invalidArgument, "a secret name must be 1-200 characters (got \(name.count))")
        }
        guard value.utf8.count <= 65_536 else {
            throw KajiError(.invalidArgument, "secret '\(name)' is \(value.utf8.count) bytes; at most 65536 are stored")
        }
    }

    /// Stores a value encrypted under `key` and returns its reference. Audited as `secret.stored` (its id
    /// and name, never the value).
    package func storeSecret(_ value: String, name: String, key: SecretKey, actor: String) async throws -> Secret {
        try Self.validateSecret(name: name, value: value)
        let id = UUID()
        let ciphertext = try key.seal(value, id: id)
        let query: PostgresQuery = try """
            WITH ins AS (
                INSERT INTO secrets (id, name, ciphertext, key_id, created_by) VALUES (\(id), \(name), \(ciphertext), \(key.id), \(actor))
                RETURNING id, name
            )
            INSERT INTO audit_events (type, actor, detail)
            SELECT \(literal: AuditEventType.secretStored), \(actor), jsonb_build_object('secret', id::text, 'name', name) FROM ins
            """
        try await client.query(query, logger: logger)
        return Secret(id: id)
    }

    /// Stores a value from inside a step, fenced by the run's lease like every checkpoint write. Returns nil
    /// when the lease is no longer held (nothing is stored).
    func storeSecret(_ lease: LeaseToken, step: String, value: String, name: String, key: SecretKey) async throws -> Secret? {
        try Self.validateSecret(name: name, value: value)
        let id = UUID()
        let ciphertext = try key.seal(value, id: id)
        let query: PostgresQuery = try """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), ins AS (
                INSERT INTO secrets (id, name, ciphertext, key_id, run_id, step, created_by)
                SELECT \(id), \(name), \(ciphertext), \(key.id), owner.id, \(step), \(lease.actor) FROM owner
                RETURNING id, name, run_id
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, epoch, worker, detail)
                SELECT run_id, \(literal: AuditEventType.secretStored), \(lease.actor), \(step), \(lease.epoch), \(lease.worker),
                       jsonb_build_object('secret', id::text, 'name', name) FROM ins
            )
            SELECT count(*) FROM ins
            """
        return try await count(query) == 1 ? Secret(id: id) : nil
    }

    /// Decrypts a secret under `key` (see the keyring variant).
    package func revealSecret(_ secret: Secret, key: SecretKey, actor: String, runID: UUID? = nil, step: String? = nil, worker: String? = nil) async throws -> String {
        try await revealSecret(secret, keys: SecretKeyring(current: key), actor: actor, runID: runID, step: step, worker: worker)
    }

    /// Decrypts a secret with whichever key of `keys` it was stored under and audits that `actor` revealed
    /// it (`secret.revealed`, with its id and name, never the value). Fails (`secretNotFound`) when there is
    /// no such secret, (`invalidState`) when its key is not in the ring or it does not decrypt.
    package func revealSecret(_ secret: Secret, keys: SecretKeyring, actor: String, runID: UUID? = nil, step: String? = nil, worker: String? = nil) async throws -> String {
        var found: (String, Data, String)?
        let rows = try await client.query("SELECT name, ciphertext, key_id FROM secrets WHERE id = \(secret.id)", logger: logger)
        for try await row in rows.decode((String, Data, String).self) { found = row }
        guard let (name, ciphertext, keyID) = found else {
            throw KajiError(.secretNotFound, "no secret \(secret.reference) (see kaji secret list)")
        }
        let value = try keys.open(ciphertext, id: secret.id, keyID: keyID)
        try await client.query("""
            INSERT INTO audit_events (run_id, type, actor, step, worker, detail)
            VALUES (\(runID), \(literal: AuditEventType.secretRevealed), \(actor), \(step), \(worker), jsonb_build_object('secret', \(secret.id.uuidString.lowercased())::text, 'name', \(name)::text))
            """, logger: logger)
        return value
    }

    /// Stored secrets (never their values), newest first, optionally by name.
    package func listSecrets(name: String? = nil, limit: Int = 100) async throws -> [SecretInfo] {
        var result: [SecretInfo] = []
        let rows = try await client.query("""
            SELECT id, name, key_id, run_id, step, created_by, created_at FROM secrets
            WHERE \(name)::text IS NULL OR name = \(name)
            ORDER BY created_at DESC, id LIMIT \(limit)
            """, logger: logger)
        for try await (id, name, keyID, runID, step, by, at) in rows.decode((UUID, String, String, UUID?, String?, String, Date).self) {
            result.append(SecretInfo(secret: Secret(id: id), name: name, keyId: keyID, runId: runID, step: step, createdBy: by, createdAt: at))
        }
        return result
    }

    /// Re-encrypts every secret not stored under `keys.current` (decrypting with the previous keys), `batchSize`
    /// at a time (default 500). Audited as `secrets.rekeyed` with the count and the new key's fingerprint.
    /// Returns how many were re-encrypted. Fails, changing nothing more, at the first secret whose key is not
    /// in the ring.
    @discardableResult
    package func rekeySecrets(keys: SecretKeyring, actor: String, batchSize: Int = 500) async throws -> Int {
        var total = 0
        while true {
            var rows: [(UUID, Data, String)] = []
            let query: PostgresQuery = "SELECT id, ciphertext, key_id FROM secrets WHERE key_id <> \(keys.current.id) ORDER BY id LIMIT \(batchSize)"
            for try await row in try await client.query(query, logger: logger).decode((UUID, Data, String).self) { rows.append(row) }
            if rows.isEmpty { break }
            var ids: [UUID] = [], oldKeys: [String] = [], sealed: [String] = []
            for (id, ciphertext, keyID) in rows {
                let value = try keys.open(ciphertext, id: id, keyID: keyID)
                ids.append(id); oldKeys.append(keyID)
                sealed.append(try keys.current.seal(value, id: id).base64EncodedString())
            }
            let update: PostgresQuery = """
                WITH up AS (
                    UPDATE secrets AS s SET ciphertext = decode(u.c, 'base64'), key_id = \(keys.current.id)
                    FROM unnest(\(ids)::uuid[], \(oldKeys)::text[], \(sealed)::text[]) AS u(id, k, c)
                    WHERE s.id = u.id AND s.key_id = u.k
                    RETURNING s.id
                ), audit AS (
                    INSERT INTO audit_events (type, actor, detail)
                    SELECT \(literal: AuditEventType.secretsRekeyed), \(actor), jsonb_build_object('count', n, 'keyId', \(keys.current.id)::text)
                    FROM (SELECT count(*) AS n FROM up) AS c WHERE n > 0
                )
                SELECT count(*) FROM up
                """
            let changed = try await count(update)
            total += changed
            if changed == 0 { break }
        }
        return total
    }
}
