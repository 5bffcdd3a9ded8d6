import Foundation

/// An OpenSSH public key line, `TYPE BASE64 [comment]` (the `.pub` file, one `authorized_keys` entry
/// without options). Parsing checks that the base64 blob is a key of the named type.
public struct OpenSSHPublicKey: Sendable, Equatable {
    /// e.g. `ssh-ed25519`.
    public let type: String
    /// The decoded key blob.
    public let blob: Data
    /// The comment after the key, often `user@host` (default empty).
    public let comment: String

    /// Key types Kaji accepts.
    public static let types = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    /// Why a line is not a public key. Descriptions never repeat the key material.
    public enum ParseProblem: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case privateKey
        case multipleLines
        case notTypeAndBase64
        case unknownType(String)
        case badBase64
        case blobMismatch(type: String)

        public var description: String {
            let shape = "expected one line 'TYPE BASE64 [comment]' as in a .pub file, e.g. 'ssh-ed25519 AAAAC3Nza… alice@laptop'"
            switch self {
            case .empty: return "is empty: \(shape)"
            case .privateKey: return "is a private key: never put a private key in a manifest; use the public key (the .pub file's line)"
            case .multipleLines: return "spans several lines: give each key as its own list item, \(shape)"
            case .notTypeAndBase64: return "is not an OpenSSH public key: \(shape)"
            case .unknownType(let type):
                return "key type '\(type.prefix(40))' is not accepted: use one of \(OpenSSHPublicKey.types.joined(separator: ", "))"
            case .badBase64: return "the key data after the type is not valid base64: copy the whole .pub line"
            case .blobMismatch(let type): return "the key data is not a valid \(type) key (truncated or mixed up): copy the whole .pub line"
            }
        }
    }

    /// Parses one line, or says what is wrong with it.
    public static func parse(_ line: String) -> Result<OpenSSHPublicKey, ParseProblem> {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return .failure(.empty) }
        if text.contains("PRIVATE KEY") { return .failure(.privateKey) }
        if text.contains("\n") || text.contains("\r") { return .failure(.multipleLines) }
        let parts = text.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count >= 2 else { return .failure(.notTypeAndBase64) }
        let type = String(parts[0])
        guard types.contains(type) else {
            let looksLikeType = type.allSatisfy { $0.isLetter || $0.isNumber || "-@.".contains($0) } && type.count <= 40
            return .failure(looksLikeType ? .unknownType(type) : .notTypeAndBase64)
        }
        guard let blob = Data(base64Encoded: String(parts[1])) else { return .failure(.badBase64) }
        guard Self.blobMatches(blob, type: type) else { return .failure(.blobMismatch(type: type)) }
        let comment = parts.count > 2 ? String(parts[2]) : ""
        return .success(OpenSSHPublicKey(type: type, blob: blob, comment: comment))
    }

    /// The blob is SSH wire format: string(type) then the key's fields; Ed25519 keys have exactly 32 bytes.
    private static func blobMatches(_ blob: Data, type: String) -> Bool {
        var reader = WireReader(bytes: [UInt8](blob))
        guard let name = reader.string(), String(decoding: name, as: UTF8.self) == type else { return false }
        switch type {
        case "ssh-ed25519":
            guard let key = reader.string(), key.count == 32 else { return false }
        case "sk-ssh-ed25519@openssh.com":
            guard let key = reader.string(), key.count == 32, reader.string() != nil else { return false }
        case "ssh-rsa":
            guard reader.string() != nil, let modulus = reader.string(), modulus.count >= 128 else { return false }
        default:
            guard reader.string() != nil, let point = reader.string(), !point.isEmpty else { return false }
        }
        return true
    }

    private struct WireReader {
        var bytes: [UInt8]
        var offset = 0

        mutating func string() -> ArraySlice<UInt8>? {
            guard offset + 4 <= bytes.count else { return nil }
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard length >= 0, offset + length <= bytes.count else { return nil }
            defer { offset += length }
            return bytes[offset..<offset + length]
        }
    }
}
