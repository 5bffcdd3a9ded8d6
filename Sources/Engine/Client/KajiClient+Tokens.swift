import Crypto
import Foundation

/// What an API token may do. Each role includes the ones before it: a viewer reads; an operator also
/// enqueues, applies, cancels, retries and signals; an approver also approves and rejects; an admin also
/// manages schedules and secrets (and reveals them).
public enum APIRole: String, StoredEnum, Codable, Comparable {
    case viewer
    case `operator`
    case approver
    case admin

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: APIRole, rhs: APIRole) -> Bool { lhs.rank < rhs.rank }

    /// Parses a role name; the error (`invalidArgument`) names `field` and lists the roles.
    public static func parse(_ text: String, field: String = "role") throws -> APIRole {
        guard let role = APIRole(rawValue: text) else {
            throw KajiError(.invalidArgument, "\(field) '\(text)' is not a role (one of: \(allCases.map(\.rawValue).joined(separator: ", ")))", field: field)
        }
        return role
    }
}

/// Who is calling, once their token checked out: `token:NAME` with its role.
public struct Principal: Sendable, Equatable, Codable {
    /// The actor recorded in the audit trail and compared by the four-eyes rule: `token:NAME`.
    public var actor: String
    public var role: APIRole

    public init(actor: String, role: APIRole) {
        self.actor = actor
        self.role = role
    }
}

/// An API token as `kaji token list --json` prints it (never the token or its hash).
public struct APITokenDocument: Sendable, Codable, Equatable {
    public var name: String
    public var role: APIRole
    /// `token:NAME`.
    public var actor: String
    /// `active`, `expired` or `revoked`.
    public var status: String
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var revokedBy: String?
}

/// A token just created: the `kaji token create --json` document. `token` is shown this once; only its
/// SHA-256 is stored.
public struct CreatedAPIToken: Sendable, Codable {
    public var name: String
    public var role: APIRole
    public var actor: String
    public var expiresAt: Date?
    public var token: String
}

extension KajiError.Code {
    /// No credentials, or credentials that are unknown, revoked or expired (HTTP 401).
    public static let unauthenticated = KajiError.Code("unauthenticated")
    /// The caller is known but their role does not allow the operation (HTTP 403).
    public static let permissionDenied = KajiError.Code("permission_denied")
    /// No API token of that name.
    public static let tokenNotFound = KajiError.Code("token_not_found")
    /// The name is taken (HTTP 409).
    public static let alreadyExists = KajiError.Code("already_exists")
}

extension KajiClient {
    /// The prefix of every token, so a leaked one is recognisable (`kaji_` + 43 base64url characters).
    public static let tokenPrefix = "kaji_"

    /// Creates a token named `name` (1-63 of a-z 0-9 . _ -, starting with a letter or digit; field `name`)
    /// with `role`, valid until `expiresAt` (default: no expiry). Returns the token, which is not stored
    /// anywhere: only its SHA-256. A name is never reused, even after a revoke (`alreadyExists`).
    public func createToken(name: String, role: APIRole, expiresAt: Date? = nil, actor: String) async throws -> CreatedAPIToken {
        guard name.range(of: #"^[a-z0-9][a-z0-9._-]{0,62}$"#, options: .regularExpression) != nil else {
            throw KajiError(.invalidArgument, "name '\(name)' is not valid: use 1-63 of a-z 0-9 . _ -, starting with a letter or digit", field: "name")
        }
        if let expiresAt, expiresAt <= Date() {
            throw KajiError(.invalidArgument, "expires is in the past: give a lifetime such as 90d, 12h or 30m", field: "expires")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        let token = Self.tokenPrefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        guard let row = try await store.insertToken(name: name, role: role.rawValue, hash: Self.tokenHash(token), expiresAt: expiresAt, actor: actor) else {
            throw KajiError(.alreadyExists, "name '\(name)' is taken by another token (names of revoked tokens stay taken: the audit trail names them)", field: "name")
        }
        return CreatedAPIToken(name: row.name, role: role, actor: "token:\(row.name)", expiresAt: row.expiresAt, token: token)
    }

    /// Every token, by name: active, expired and revoked.
    public func tokens() async throws -> [APITokenDocument] {
        try await store.listTokens().map { try Self.document($0) }
    }

    /// Revokes the token `name` at once (revoking twice is harmless); throws `tokenNotFound` (field `name`).
    @discardableResult
    public func revokeToken(name: String, actor: String) async throws -> APITokenDocument {
        guard let row = try await store.revokeToken(name: name, actor: actor) else {
            throw KajiError(.tokenNotFound, "no token named '\(name)' (see kaji token list)", field: "name")
        }
        return try Self.document(row)
    }

    /// The principal a bearer token stands for. Throws `unauthenticated` for an unknown, revoked or
    /// expired token; the message never repeats the token.
    public func authenticate(token: String) async throws -> Principal {
        guard token.hasPrefix(Self.tokenPrefix), token.count < 200,
              let row = try await store.token(hash: Self.tokenHash(token)) else {
            throw KajiError(.unauthenticated, "the token is not known: ask an admin for one (kaji token create)")
        }
        if row.revokedAt != nil { throw KajiError(.unauthenticated, "token '\(row.name)' was revoked") }
        if let expires = row.expiresAt, expires <= Date() { throw KajiError(.unauthenticated, "token '\(row.name)' expired at \(KajiJSON.format(expires))") }
        return Principal(actor: "token:\(row.name)", role: try APIRole.stored(row.role, column: "api_tokens.role"))
    }

    /// Parses a token's lifetime such as `90d`, `12h`, `1d12h` (the grammar of `age`; field `expires`).
    public static func lifetime(_ text: String) throws -> TimeInterval {
        let duration = try age(text, field: "expires")
        return TimeInterval(duration.components.seconds)
    }

    static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    static func document(_ row: APITokenRow) throws -> APITokenDocument {
        let status = row.revokedAt != nil ? "revoked" : (row.expiresAt.map { $0 <= Date() } ?? false) ? "expired" : "active"
        return APITokenDocument(name: row.name, role: try APIRole.stored(row.role, column: "api_tokens.role"), actor: "token:\(row.name)", status: status,
                                createdBy: row.createdBy, createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt, revokedBy: row.revokedBy)
    }
}
