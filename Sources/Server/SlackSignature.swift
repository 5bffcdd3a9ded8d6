import Crypto
import Foundation

/// Slack's request signing (api.slack.com/authentication/verifying-requests-from-slack): the header
/// `X-Slack-Signature` is `v0=` + hex(HMAC-SHA256(signing secret, `v0:TIMESTAMP:BODY`)), with
/// `X-Slack-Request-Timestamp` at most 5 minutes from now.
public enum SlackSignature {
    /// How far the timestamp may be from now (5 minutes, as Slack's Bolt).
    public static let window: TimeInterval = 300

    /// Whether `signature` signs `body` at `timestamp` under `secret`, and the timestamp lies within
    /// `window` of `now`. The comparison takes the same time wherever the signatures differ.
    public static func isValid(secret: String, timestamp: String?, signature: String?, body: Data, now: Date = Date()) -> Bool {
        guard let timestamp, let signature, let seconds = Int64(timestamp),
              abs(now.timeIntervalSince1970 - Double(seconds)) <= window,
              signature.hasPrefix("v0="), let mac = hexBytes(signature.dropFirst(3)), mac.count == SHA256.byteCount else { return false }
        var signed = Data("v0:\(timestamp):".utf8)
        signed.append(body)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: SymmetricKey(data: Data(secret.utf8)))
    }

    /// `v0=` + hex of the HMAC: what Slack would send (for tests and tools).
    public static func sign(secret: String, timestamp: String, body: Data) -> String {
        var signed = Data("v0:\(timestamp):".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "v0=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
