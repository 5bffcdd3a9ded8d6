import Engine
import Metrics

/// The metrics of a worker pool itself (the engine's, `EngineMetrics`, come from its executor): slots,
/// claims, lease renewals, leases lost and runs rescued. All go through swift-metrics.
public struct WorkerMetrics: Sendable {
    public let factory: any MetricsFactory
    /// False for swift-metrics' no-op handler: then nothing is emitted at all.
    let isEnabled: Bool

    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.isEnabled = !(factory is NOOPMetricsHandler)
    }

    public static let slots = "kaji_worker_slots"
    public static let claimDuration = "kaji_claim_duration_seconds"
    public static let runsClaimed = "kaji_runs_claimed_total"
    public static let claimErrors = "kaji_claim_errors_total"
    public static let renewalFailures = "kaji_lease_renewal_failures_total"
    public static let leasesLost = "kaji_leases_lost_total"
    public static let runsRescued = "kaji_runs_rescued_total"

    /// Bucket bounds of claim round trips (seconds).
    public static let claimBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// The pool's metrics, with their HELP texts.
    public static let descriptions: [MetricDescription] = [
        MetricDescription(slots, .gauge, "This worker's run slots by state: busy (a run executing) or free."),
        MetricDescription(claimDuration, .histogram, "Seconds each claim statement took (claims that failed included).", buckets: claimBuckets),
        MetricDescription(runsClaimed, .counter, "Runs this worker claimed."),
        MetricDescription(claimErrors, .counter, "Claims that failed (database error or no answer within 30 s)."),
        MetricDescription(renewalFailures, .counter, "Lease renewals (with the heartbeat) that failed and were tried again on a fresh connection."),
        MetricDescription(leasesLost, .counter,
                          "Runs this worker stopped because it lost their lease, by reason: taken_over (another worker owns the run now) or not_renewed (no renewal in time by this worker's clock)."),
        MetricDescription(runsRescued, .counter, "Runs whose lease expired (their worker died or hung) that this worker's rescuer put back in the queue."),
    ]

    /// Every metric a `kaji worker` process exports: the engine's and the pool's.
    public static var all: [MetricDescription] { EngineMetrics.descriptions + descriptions }

    func slots(busy: Int, free: Int) {
        guard isEnabled else { return }
        Gauge(label: Self.slots, dimensions: [("state", "busy")], factory: factory).record(busy)
        Gauge(label: Self.slots, dimensions: [("state", "free")], factory: factory).record(max(0, free))
    }

    func claimed(runs: Int, duration: Duration) {
        guard isEnabled else { return }
        CoreMetrics.Timer(label: Self.claimDuration, factory: factory).recordNanoseconds(duration.wholeNanoseconds)
        if runs > 0 { Counter(label: Self.runsClaimed, factory: factory).increment(by: runs) }
    }

    func claimFailed(duration: Duration) {
        guard isEnabled else { return }
        CoreMetrics.Timer(label: Self.claimDuration, factory: factory).recordNanoseconds(duration.wholeNanoseconds)
        Counter(label: Self.claimErrors, factory: factory).increment()
    }

    func renewalFailed() {
        guard isEnabled else { return }
        Counter(label: Self.renewalFailures, factory: factory).increment()
    }

    func leaseLost(reason: String) {
        guard isEnabled else { return }
        Counter(label: Self.leasesLost, dimensions: [("reason", reason)], factory: factory).increment()
    }

    func rescued(_ count: Int) {
        guard isEnabled else { return }
        if count > 0 { Counter(label: Self.runsRescued, factory: factory).increment(by: count) }
    }
}

extension Duration {
    /// Whole nanoseconds (negative durations count as 0).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
