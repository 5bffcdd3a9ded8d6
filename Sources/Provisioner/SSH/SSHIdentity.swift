import Crypto
import Foundation
import NIOSSH

/// The client's ed25519 key. Its `description` shows only the public key's fingerprint.
public struct SSHIdentity: Sendable, CustomStringConvertible {
    let privateKey: NIOSSHPrivateKey
    private let seed: Data
    /// `ssh-ed25519 AAAA…`, for `authorized_keys` or a disk edit's `SSHKeys`.
    public let publicKeyLine: String

    init(key: Curve25519.Signing.PrivateKey) {
        privateKey = NIOSSHPrivateKey(ed25519Key: key)
        seed = key.rawRepresentation
        publicKeyLine = String(openSSHPublicKey: privateKey.publicKey)
    }

    /// Reads an unencrypted OpenSSH ed25519 private key from its text.
    public init(openSSHPrivateKey text: String) throws(SSHError) {
        do {
            self.init(key: try OpenSSHKeyParser.parseEd25519(text))
        } catch {
            throw SSHError(kind: .invalidKey(path: "<text>", reason: error.reason))
        }
    }

    /// The key as an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`), for a
    /// secret store or for `ssh -i`. This is key material: keep it encrypted, never log it.
    public func openSSHPrivateKey(comment: String = "kaji") -> String {
        OpenSSHKeyParser.encodeEd25519(seed: seed, comment: comment)
    }

    /// A new random key.
    public static func generate() -> SSHIdentity {
        SSHIdentity(key: Curve25519.Signing.PrivateKey())
    }

    /// Reads an unencrypted OpenSSH ed25519 private key file (`ssh-keygen -t ed25519 -N ''`).
    public static func load(privateKeyPath path: String) throws(SSHError) -> SSHIdentity {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SSHError(kind: .invalidKey(path: path, reason: "cannot read it: \(error.localizedDescription)"))
        }
        do {
            return SSHIdentity(key: try OpenSSHKeyParser.parseEd25519(text))
        } catch {
            throw SSHError(kind: .invalidKey(path: path, reason: error.reason))
        }
    }

    public var description: String { "SSHIdentity(\(SSHFingerprint.of(privateKey.publicKey)))" }
}

/// SHA-256 fingerprints of public keys, as `ssh-keygen -l` prints them.
enum SSHFingerprint {
    static func of(_ key: NIOSSHPublicKey) -> String {
        let line = String(openSSHPublicKey: key)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, let blob = Data(base64Encoded: String(parts[1])) else { return "SHA256:?" }
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }
}

/// Reads the `openssh-key-v1` container: magic, cipher/kdf `none`, one key, then the private section
/// (check1 == check2, `ssh-ed25519`, 32-byte public key, 64-byte secret whose first 32 bytes are the seed).
enum OpenSSHKeyParser {
    struct Failure: Error {
        var reason: String
    }

    static func parseEd25519(_ text: String) throws(Failure) -> Curve25519.Signing.PrivateKey {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "-----BEGIN OPENSSH PRIVATE KEY-----",
            lines.contains("-----END OPENSSH PRIVATE KEY-----")
        else { throw Failure(reason: "not an OpenSSH private key (expected -----BEGIN OPENSSH PRIVATE KEY-----)") }
        let body = lines.filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { throw Failure(reason: "the key body is not base64") }
        var reader = Reader(bytes: [UInt8](data))
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard try reader.take(magic.count) == magic else { throw Failure(reason: "missing openssh-key-v1 magic") }
        let cipher = try reader.string()
        let kdf = try reader.string()
        _ = try reader.blob()
        guard cipher == "none", kdf == "none" else {
            throw Failure(reason: "the key is encrypted (cipher \(cipher)); Kaji needs an unencrypted key")
        }
        guard try reader.uint32() == 1 else { throw Failure(reason: "the file must hold exactly one key") }
        _ = try reader.blob()
        var section = Reader(bytes: try reader.blob())
        guard try section.uint32() == section.uint32() else {
            throw Failure(reason: "check words differ (corrupt or encrypted key)")
        }
        let type = try section.string()
        guard type == "ssh-ed25519" else { throw Failure(reason: "key type is \(type); only ssh-ed25519 is supported") }
        guard try section.blob().count == 32 else { throw Failure(reason: "bad ed25519 public key length") }
        let secret = try section.blob()
        guard secret.count == 64 else { throw Failure(reason: "bad ed25519 secret length") }
        do {
            return try Curve25519.Signing.PrivateKey(rawRepresentation: secret[0..<32])
        } catch {
            throw Failure(reason: "the ed25519 seed was rejected")
        }
    }

    /// Writes the `openssh-key-v1` container for an ed25519 seed (cipher and kdf `none`).
    static func encodeEd25519(seed: Data, comment: String) -> String {
        let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        let publicKey = [UInt8](key?.publicKey.rawRepresentation ?? Data())
        func uint32(_ value: Int) -> [UInt8] {
            [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        func blob(_ bytes: [UInt8]) -> [UInt8] { uint32(bytes.count) + bytes }
        let type = Array("ssh-ed25519".utf8)
        let publicBlob = blob(type) + blob(publicKey)
        let check = uint32(Int(UInt32.random(in: 0...UInt32.max)))
        var section = check + check + blob(type) + blob(publicKey) + blob([UInt8](seed) + publicKey)
            + blob(Array(comment.utf8))
        var pad: UInt8 = 1
        while section.count % 8 != 0 {
            section.append(pad)
            pad += 1
        }
        let none = Array("none".utf8)
        let body = Array("openssh-key-v1".utf8) + [0] + blob(none) + blob(none) + blob([]) + uint32(1)
            + blob(publicBlob) + blob(section)
        let base64 = Data(body).base64EncodedString()
        var lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
        var index = base64.startIndex
        while index < base64.endIndex {
            let end = base64.index(index, offsetBy: 70, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[index..<end]))
            index = end
        }
        lines.append("-----END OPENSSH PRIVATE KEY-----")
        return lines.joined(separator: "\n") + "\n"
    }

    struct Reader {
        var bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int) throws(Failure) -> [UInt8] {
            guard count >= 0, offset + count <= bytes.count else { throw Failure(reason: "the key is truncated") }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        mutating func uint32() throws(Failure) -> UInt32 {
            try take(4).reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func blob() throws(Failure) -> [UInt8] {
            try take(Int(try uint32()))
        }

        mutating func string() throws(Failure) -> String {
            String(decoding: try blob(), as: UTF8.self)
        }
    }
}
