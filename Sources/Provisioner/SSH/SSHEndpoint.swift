/// A node to reach over SSH.
public struct SSHEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    /// Default 22.
    public var port: Int
    /// Default `root`.
    public var user: String
    /// Variables sent as SSH `env` requests before the command (an sshd applies only those its `AcceptEnv`
    /// allows). Simulated nodes are told apart by `KAJI_SIM_WORLD` and `KAJI_NODE`; default none.
    public var environment: [String: String]

    public init(host: String, port: Int = 22, user: String = "root", environment: [String: String] = [:]) {
        self.host = host
        self.port = port
        self.user = user
        self.environment = environment
    }

    /// The `known_hosts` name: `host` for port 22, else `[host]:port`.
    public var knownHostsName: String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    public var description: String {
        var text = "\(user)@\(host):\(port)"
        if let node = environment["KAJI_NODE"] { text += " (node \(node))" }
        return text
    }
}

/// What a remote command did.
public struct SSHCommandResult: Sendable, Equatable {
    /// The exit status; -1 when the command was killed by a signal.
    public var exitStatus: Int
    public var stdout: String
    public var stderr: String
    /// The signal that killed the command (e.g. `KILL`), if one did.
    public var signal: String?

    public init(exitStatus: Int, stdout: String, stderr: String, signal: String? = nil) {
        self.exitStatus = exitStatus
        self.stdout = stdout
        self.stderr = stderr
        self.signal = signal
    }

    public var succeeded: Bool { exitStatus == 0 }
}
