/// A failed SSH call. Never carries key material; host keys appear only as SHA-256 fingerprints.
public struct SSHError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No connection could be made (refused, unreachable, connect timeout), after `attempts` tries.
        case connectFailed(attempts: Int, reason: String)
        /// The node presented a different host key than the one pinned in the known-hosts file.
        case hostKeyChanged(pinned: String, presented: String, knownHostsPath: String)
        /// The node refused our key.
        case authenticationFailed
        /// The command did not finish before the deadline; the connection was closed.
        case timedOut(seconds: Double)
        /// The session broke or the node refused to run the command.
        case channelFailed(String)
        /// A key file could not be read.
        case invalidKey(path: String, reason: String)
        /// The command exited with a non-zero status (thrown only by ``SSHExecutor/runChecked(_:on:stdin:deadline:)``).
        case commandFailed(exitStatus: Int, stderr: String)
    }

    public var kind: Kind
    public var endpoint: String
    /// The command's first word or so, for context (never its stdin).
    public var command: String

    public init(kind: Kind, endpoint: String = "", command: String = "") {
        self.kind = kind
        self.endpoint = endpoint
        self.command = command
    }

    /// Whether trying again may help: only connection failures and broken sessions.
    public var isRetryable: Bool {
        switch kind {
        case .connectFailed, .channelFailed, .timedOut: return true
        default: return false
        }
    }

    public var description: String {
        let context = command.isEmpty ? "SSH to \(endpoint)" : "SSH `\(command)` on \(endpoint)"
        switch kind {
        case .connectFailed(let attempts, let reason):
            return "\(context): could not connect after \(attempts) attempt(s): \(reason)"
        case .hostKeyChanged(let pinned, let presented, let path):
            return "\(context): HOST KEY CHANGED: pinned \(pinned) in \(path), presented \(presented); refusing to connect. "
                + "If the node was rebuilt on purpose, remove its line from \(path)"
        case .authenticationFailed:
            return "\(context): the node refused the client key (is its public key in authorized_keys?)"
        case .timedOut(let seconds):
            return "\(context): no result within the \(seconds) s deadline; the connection was closed"
        case .channelFailed(let reason):
            return "\(context): session failed: \(reason)"
        case .invalidKey(let path, let reason):
            return "SSH key file \(path) is unusable: \(reason)"
        case .commandFailed(let status, let stderr):
            let tail = stderr.split(separator: "\n").suffix(3).joined(separator: " | ")
            return "\(context): exited with status \(status)\(tail.isEmpty ? "" : ": \(tail)")"
        }
    }
}
