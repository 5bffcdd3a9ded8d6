import Foundation

/// A token that was checked once, as a session keeps it: its SHA-256 (what the database stores), never the
/// token. Only this module can make one (from the token) or read it, so a session can be checked again on
/// every request, a revoked or expired token ending it at once, without the server keeping the token.
public struct TokenCredential: Sendable, Equatable {
    let hash: Data
    /// The token's name (`token:NAME` is the actor).
    public let name: String
}

extension KajiClient {
    /// Checks `token` as `authenticate(token:)` does and returns its principal with a credential that can
    /// be checked again later (`authenticate(_:)`). Throws `unauthenticated` (the message never repeats
    /// the token).
    public func credential(token: String) async throws -> (credential: TokenCredential, principal: Principal) {
        let principal = try await authenticate(token: token)
        let name = String(principal.actor.dropFirst("token:".count))
        return (TokenCredential(hash: Self.tokenHash(token), name: name), principal)
    }

    /// The principal of a credential now: its role as it is stored now. Throws `unauthenticated` once the
    /// token was revoked or expired (or is gone).
    public func authenticate(_ credential: TokenCredential) async throws -> Principal {
        guard let row = try await store.token(hash: credential.hash) else {
            throw KajiError(.unauthenticated, "token '\(credential.name)' is no longer known")
        }
        if row.revokedAt != nil { throw KajiError(.unauthenticated, "token '\(row.name)' was revoked") }
        if let expires = row.expiresAt, expires <= Date() { throw KajiError(.unauthenticated, "token '\(row.name)' expired at \(KajiJSON.format(expires))") }
        return Principal(actor: "token:\(row.name)", role: try APIRole.stored(row.role, column: "api_tokens.role"))
    }
}
