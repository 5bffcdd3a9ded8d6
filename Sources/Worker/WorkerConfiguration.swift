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

    public init(
        id: String = WorkerConfiguration.defaultID(),
        queues: [String] = ["default"],
        concurrency: Int = 10,
        claimBatch: Int? = nil,
        leaseSeconds: Double = 30,
        pollInterval: Duration = .seconds(1),
        rescueInterval: Duration = .seconds(2),
        drainTimeout: Duration = .seconds(30),
        inlineRetryLimit: Duration = .seconds(2)
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
    }

    /// `HOST:PID:XXXX`.
    public static func defaultID() -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(ProcessInfo.processInfo.hostName):\(getpid()):\(suffix)"
    }
}
