import Foundation

/// A secret just stored: the `kaji secret put --json` document.
public struct StoredSecret: Sendable, Codable, Equatable {
    public var secret: Secret
    /// `secret:<uuid>`.
    public var reference: String
    public var name: String

    public init(secret: Secret, name: String) {
        self.secret = secret
        self.reference = secret.reference
        self.name = name
    }
}

/// A revealed secret: the `kaji secret reveal --json` document.
public struct RevealedSecret: Sendable, Codable, Equatable {
    /// `secret:<uuid>`.
    public var secret: String
    public var value: String
}

extension KajiClient {
    /// Stores `value` encrypted under `key`; returns its reference. The value must not be empty (field
    /// `value`), the name 1-200 characters (field `name`).
    public func storeSecret(_ value: String, name: String, key: SecretKey, actor: String) async throws -> StoredSecret {
        guard !value.isEmpty else { throw KajiError(.invalidArgument, "value is empty: a secret needs a value", field: "value") }
        guard !name.isEmpty, name.count <= 200 else {
            throw KajiError(.invalidArgument, "a secret name must be 1-200 characters (got \(name.count))", field: "name")
        }
        let secret = try await store.storeSecret(value, name: name, key: key, actor: actor)
        return StoredSecret(secret: secret, name: name)
    }

    /// Parses a reference (`secret:<uuid>`, `<uuid>` or `{"$secret": "<uuid>"}`); errors name `reference`.
    public static func secret(reference: String) throws -> Secret {
        do {
            return try Secret(reference: reference)
        } catch let error as KajiError {
            throw error.naming(field: "reference")
        }
    }

    /// Decrypts a secret for `actor`; audited as `secret.revealed` (never with the value). Throws
    /// `secretNotFound`.
    public func revealSecret(_ secret: Secret, keys: SecretKeyring, actor: String) async throws -> RevealedSecret {
        let value = try await store.revealSecret(secret, keys: keys, actor: actor)
        return RevealedSecret(secret: secret.reference, value: value)
    }

    /// Stored secrets (never their values), newest first: only those named `name` when given, at most
    /// `limit` (default 100, 1...10000).
    public func secrets(name: String? = nil, limit: Int = 100) async throws -> [SecretInfo] {
        try Self.validate(limit, in: 1...10_000, field: "limit")
        return try await store.listSecrets(name: name, limit: limit)
    }

    /// Re-encrypts every secret under `keys.current`; returns how many. Audited as `secrets.rekeyed`.
    public func rekeySecrets(keys: SecretKeyring, actor: String) async throws -> Int {
        try await store.rekeySecrets(keys: keys, actor: actor)
    }
}
