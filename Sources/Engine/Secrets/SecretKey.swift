import Crypto
import Foundation

/// The 256-bit key secrets are encrypted under (AES-GCM). Read from `KAJI_SECRET_KEY` (base64 of 32
/// bytes) or, when that is unset, from the file named by `KAJI_SECRET_KEY_FILE` (base64 text or 32 raw
/// bytes). Its description and every error about it show only its fingerprint, never the key.
public struct SecretKey: Sendable, CustomStringConvertible {
    /// The key's bytes (SymmetricKey is not Sendable; one is made per use).
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }
    /// A fingerprint of the key (16 hex digits of a SHA-256 over a label and the key), stored beside each
    /// ciphertext so that decrypting under a different key is reported as such.
    public let id: String

    /// A key from its 32 bytes. `source` names where they came from, for errors.
    public init(bytes: [UInt8], source: String = "the key") throws {
        guard bytes.count == 32 else {
            throw KajiError(.invalidArgument, "\(source) must hold 32 bytes (AES-256), it holds \(bytes.count): generate one with `kaji secret keygen`")
        }
        self.init(symmetric: SymmetricKey(data: bytes))
    }

    private init(symmetric: SymmetricKey) {
        bytes = symmetric.withUnsafeBytes { Array($0) }
        var hasher = SHA256()
        hasher.update(data: Array("kaji-secret-key-id:".utf8))
        symmetric.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        id = hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A key from base64 text. `source` names where it came from, for errors (which never repeat the text).
    public init(base64 text: String, source: String) throws {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw KajiError(.invalidArgument, "\(source) is not valid base64: generate a key with `kaji secret keygen`")
        }
        try self.init(bytes: Array(data), source: source)
    }

    /// A new random key.
    public static func generate() -> SecretKey {
        SecretKey(symmetric: SymmetricKey(size: .bits256))
    }

    /// The key as base64 (for `kaji secret keygen` only: never log it).
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    public var description: String { "SecretKey(id: \(id))" }

    /// The key configured in the environment: `KAJI_SECRET_KEY` (base64), else the file named by
    /// `KAJI_SECRET_KEY_FILE`. Throws `invalidArgument` saying what to set when neither is.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretKey {
        if let text = environment["KAJI_SECRET_KEY"], !text.isEmpty {
            return try SecretKey(base64: text, source: "KAJI_SECRET_KEY")
        }
        if let path = environment["KAJI_SECRET_KEY_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KajiError(.invalidArgument, "KAJI_SECRET_KEY_FILE names '\(path)', which cannot be read")
            }
            if data.count == 32 { return try SecretKey(bytes: Array(data), source: "KAJI_SECRET_KEY_FILE (\(path))") }
            return try SecretKey(base64: String(decoding: data, as: UTF8.self), source: "KAJI_SECRET_KEY_FILE (\(path))")
        }
        throw KajiError(.invalidArgument, "no secret key: set KAJI_SECRET_KEY to base64 of 32 bytes or KAJI_SECRET_KEY_FILE to a file holding it (generate one with `kaji secret keygen`)")
    }

    /// Encrypts a value; the secret's id is bound in as associated data, so a ciphertext moved to another
    /// row does not decrypt.
    func seal(_ value: String, id secretID: UUID) throws -> Data {
        do {
            let box = try AES.GCM.seal(Data(value.utf8), using: key, authenticating: Data(secretID.uuidString.lowercased().utf8))
            guard let combined = box.combined else { throw KajiError(.invalidState, "AES-GCM produced no combined box") }
            return combined
        } catch let error as KajiError {
            throw error
        } catch {
            throw KajiError(.invalidState, "encrypting secret:\(secretID.uuidString.lowercased()) failed: \(type(of: error))")
        }
    }

    /// Decrypts a value sealed by `seal` under this key.
    func open(_ data: Data, id secretID: UUID, keyID: String) throws -> String {
        guard keyID == id else {
            throw KajiError(.invalidState, "secret:\(secretID.uuidString.lowercased()) was encrypted under key \(keyID), but the configured key is \(id): set KAJI_SECRET_KEY to the key it was stored with")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(secretID.uuidString.lowercased().utf8))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw KajiError(.invalidState, "secret:\(secretID.uuidString.lowercased()) does not decrypt under key \(id): its ciphertext was altered or moved")
        }
    }
}
