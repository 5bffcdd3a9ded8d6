import Crypto
import Engine
import Foundation

/// The dashboard's login sessions, kept in the `kaji serve` process. The browser holds only a random
/// session id (in an HttpOnly, SameSite=Strict cookie); the session holds the token's credential (its
/// hash, never the token), which is checked again on every request, so a revoked or expired token ends
/// its sessions at once. A server restart ends every session (people log in again); several `serve`
/// processes behind one address need sticky sessions.
actor DashboardSessions {
    /// A notice shown once, on the next page of the session (after a form's redirect).
    struct Flash: Sendable, Equatable {
        var ok: Bool
        var message: String
    }

    struct Session: Sendable {
        /// The random id the cookie carries.
        let id: String
        /// The CSRF token every form of this session carries (random, not derived from the id).
        let csrf: String
        let credential: TokenCredential
        let created: ContinuousClock.Instant
        var lastSeen: ContinuousClock.Instant
        var flash: Flash?
    }

    /// A session unused this long ends (default 8 hours).
    let idle: Duration
    /// A session ends this long after the login however it is used (default 24 hours).
    let lifetime: Duration
    /// At most this many sessions; the least recently used goes first beyond it (default 10000).
    let capacity: Int
    /// By the SHA-256 of the id: the table is never searched by the secret itself.
    private var sessions: [Data: Session] = [:]
    private let clock = ContinuousClock()

    init(idle: Duration = .seconds(8 * 3600), lifetime: Duration = .seconds(24 * 3600), capacity: Int = 10_000) {
        self.idle = idle
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// 32 random bytes, base64url without padding (43 characters).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private static func key(_ id: String) -> Data { Data(SHA256.hash(data: Data(id.utf8))) }

    /// A new session for `credential`.
    func create(_ credential: TokenCredential) -> Session {
        sweep()
        if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
            sessions[oldest.key] = nil
        }
        let now = clock.now
        let session = Session(id: Self.randomToken(), csrf: Self.randomToken(), credential: credential, created: now, lastSeen: now)
        sessions[Self.key(session.id)] = session
        return session
    }

    /// The live session with this id (its use recorded), or nil.
    func session(_ id: String) -> Session? {
        guard id.count <= 100 else { return nil }
        let key = Self.key(id)
        guard var session = sessions[key] else { return nil }
        let now = clock.now
        if now - session.lastSeen > idle || now - session.created > lifetime {
            sessions[key] = nil
            return nil
        }
        session.lastSeen = now
        sessions[key] = session
        return session
    }

    func remove(_ id: String) { sessions[Self.key(id)] = nil }

    func setFlash(_ id: String, _ flash: Flash) { sessions[Self.key(id)]?.flash = flash }

    /// The session's notice, removed.
    func takeFlash(_ id: String) -> Flash? {
        let key = Self.key(id)
        let flash = sessions[key]?.flash
        sessions[key]?.flash = nil
        return flash
    }

    private func sweep() {
        let now = clock.now
        sessions = sessions.filter { now - $0.value.lastSeen <= idle && now - $0.value.created <= lifetime }
    }
}
