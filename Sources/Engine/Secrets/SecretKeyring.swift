import Foundation

/// The key new secrets are encrypted under, plus older keys still accepted for decryption while a key is
/// rotated: set the new key as `KAJI_SECRET_KEY`, the old one in `KAJI_SECRET_PREVIOUS_KEYS`, run
/// `kaji secret rekey`, then drop the old key.
public struct SecretKeyring: Sendable, CustomStringConvertible {
    /// Encrypts new secrets (and decrypts those stored under it).
    public let current: SecretKey
    /// Decrypt only (default none).
    public let previous: [SecretKey]

    public init(current: SecretKey, previous: [SecretKey] = []) {
        self.current = current
        self.previous = previous.filter { $0.id != current.id }
    }

    /// `SecretKey.fromEnvironment` as the current key, and `KAJI_SECRET_PREVIOUS_KEYS` (comma-separated
    /// base64 keys, default none) as the previous ones. Errors name the variable and the position of a bad
    /// key, never the key.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretKeyring {
        let current = try SecretKey.fromEnvironment(environment)
        var previous: [SecretKey] = []
        let list = (environment["KAJI_SECRET_PREVIOUS_KEYS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for (index, text) in list.enumerated() {
            previous.append(try SecretKey(base64: text, source: "KAJI_SECRET_PREVIOUS_KEYS (key #\(index + 1))"))
        }
        return SecretKeyring(current: current, previous: previous)
    }

    /// The key with this fingerprint, if the ring holds it.
    func key(id: String) -> SecretKey? {
        if current.id == id { return current }
        return previous.first { $0.id == id }
    }

    /// Decrypts with whichever key the value was stored under.
    func open(_ data: Data, id secretID: UUID, keyID: String) throws -> String {
        guard let key = key(id: keyID) else {
            let known = ([current] + previous).map(\.id).joined(separator: ", ")
            throw KajiError(.invalidState, "secret:\(secretID.uuidString.lowercased()) was encrypted under key \(keyID), which is not configured (configured: \(known)): set KAJI_SECRET_KEY or KAJI_SECRET_PREVIOUS_KEYS to it")
        }
        return try key.open(data, id: secretID, keyID: keyID)
    }

    public var description: String { "SecretKeyring(current: \(current.id), previous: [\(previous.map(\.id).joined(separator: ", "))])" }
}
