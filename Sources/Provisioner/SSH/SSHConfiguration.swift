/// How an ``SSHExecutor`` connects.
public struct SSHConfiguration: Sendable {
    public var identity: SSHIdentity
    /// Host keys pinned on first contact; a changed key is a hard error.
    public var knownHosts: KnownHostsFile
    /// Time limit of one TCP connect; default 5 s.
    public var connectTimeout: Duration
    /// Connect attempts before giving up (connection failures only); default 3.
    public var connectAttempts: Int
    /// Wait between connect attempts, doubled each time; default 0.5 s.
    public var connectRetryWait: Duration
    /// Keep one connection per node open and run later commands as new sessions on it; default true.
    public var reuseConnections: Bool

    public init(
        identity: SSHIdentity, knownHosts: KnownHostsFile, connectTimeout: Duration = .seconds(5),
        connectAttempts: Int = 3, connectRetryWait: Duration = .milliseconds(500), reuseConnections: Bool = true
    ) {
        self.reuseConnections = reuseConnections
        self.identity = identity
        self.knownHosts = knownHosts
        self.connectTimeout = connectTimeout
        self.connectAttempts = connectAttempts
        self.connectRetryWait = connectRetryWait
    }
}
