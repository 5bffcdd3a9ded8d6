import Foundation

/// How a worker process claims and runs work.
public struct WorkerConfiguration: Sendable {
    /// A unique id for this process (default `HOST:PID:RANDOM`).
    public var id: String
    /// Queues to claim from (default `["default"]`).
    public var queues: [String]
    /// Runs executed at once (default 10).
    public var concurrency: Int
    /// Runs claimed per round trip (default: `concurrency`).
    public var claimBatch: Int
    /// Lease length; renewed every third of it while a run is busy (default 30 s).
    public var leaseSeconds: Double
    /// Longest wait for work when no notification arrives (default 1 s).
    public var pollInterval: Duration
    /// How often expired leases of dead workers are looked for (default 2 s, jittered).
    public var rescueInterval: Duration
    /// On SIGTERM, how long running steps may take to finish before their runs are given back (default 30 s).
    public var drainTimeout: Duration
    /// Step retries due sooner than this wait in place; later ones suspend the run (default 2 s).
    public var inlineRetryLimit: Duration
    /// How long after a lease ran out, with its owner's heartbeat as stale, the rescuer waits before it
    /// takes the run (default half the lease, at least 1 s).
    public var rescueGrace: Duration

    /// How long a renewal (or a claim) keeps a lease valid by this worker's own clock: the lease less a
    /// margin of a sixth. A run not renewed within it is stopped here before anyone else may take it.
    public var leaseValidity: Duration { .milliseconds(Int64(leaseSeconds * 1000 * 5 / 6)) }

    /// The statement timeout of the renewal connection: a renewal stuck behind a lock fails after this and
    /// is tried again at once (a third of the lease, at least 1 s). A server that does not answer at all is
    /// given half the lease before the connection is dropped and opened afresh.
    public var renewalTimeout: Duration { .milliseconds(Int64(max(1000, leaseSeconds * 1000 / 3))) }

    public init(
        id: String = WorkerConfiguration.defaultID(),
        queues: [String] = ["default"],
        concurrency: Int = 10,
        claimBatch: Int? = nil,
        leaseSeconds: Double = 30,
        pollInterval: Duration = .seconds(1),
        rescueInterval: Duration = .seconds(2),
        drainTimeout: Duration = .seconds(30),
        inlineRetryLimit: Duration = .seconds(2),
        rescueGrace: Duration? = nil
    ) {
        self.id = id
        self.queues = queues
        self.concurrency = max(1, concurrency)
        self.claimBatch = max(1, claimBatch ?? concurrency)
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.rescueInterval = rescueInterval
        self.drainTimeout = drainTimeout
        self.inlineRetryLimit = inlineRetryLimit
        self.rescueGrace = rescueGrace ?? .milliseconds(Int64(max(1000, leaseSeconds * 1000 / 2)))
    }

    /// `HOST:PID:XXXX`.
    public static func defaultID() -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(ProcessInfo.processInfo.hostName):\(getpid()):\(suffix)"
    }
}
