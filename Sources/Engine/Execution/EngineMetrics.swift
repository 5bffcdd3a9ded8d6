import Foundation
import Metrics
import Synchronization

/// One metric Kaji exports: its name (`kaji_*`, base units, `_total` for counters), its type, the HELP
/// text, and for a histogram its bucket bounds in the metric's unit (seconds).
public struct MetricDescription: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public let name: String
    public let kind: Kind
    public let help: String
    /// Upper bounds of a histogram's buckets (empty for counters and gauges).
    public let buckets: [Double]

    public init(_ name: String, _ kind: Kind, _ help: String, buckets: [Double] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.buckets = buckets
    }
}

/// The metrics the engine emits while it executes runs (through swift-metrics, so any backend works):
/// executions started and ended by kind and outcome, run and step durations, retries, suspensions by what
/// they wait for, and claim-to-start latency.
///
/// Labels are bounded: `kind` is a registered workflow kind, `family` is a step name without its `gN/`
/// prefix and without what follows its first `:` (node names, sequence numbers). Past
/// `EngineMetrics.maxLabelValues` distinct values of one label (per kind, for families) the rest are
/// reported as `other`. No run ids, no worker ids (Prometheus adds the scraped instance).
public struct EngineMetrics: Sendable {
    /// Where the metrics go (default: `MetricsSystem.factory`, a no-op unless the process bootstrapped one).
    public let factory: any MetricsFactory
    /// Whether the factory records anything (false for swift-metrics' no-op handler): the few metrics that
    /// cost a database read are taken only when true.
    public let isEnabled: Bool
    private let guardian: LabelGuard

    /// Distinct values one label may take (per kind for step families) before the rest count as `other`.
    public static let maxLabelValues = 64

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        self.isEnabled = !(factory is NOOPMetricsHandler)
        self.guardian = LabelGuard()
    }

    // MARK: names

    public static let runsStarted = "kaji_runs_started_total"
    public static let runsFinished = "kaji_runs_finished_total"
    public static let runDuration = "kaji_run_duration_seconds"
    public static let runRetries = "kaji_run_retries_total"
    public static let runSuspensions = "kaji_run_suspensions_total"
    public static let stepDuration = "kaji_step_duration_seconds"
    public static let stepRetries = "kaji_step_retries_total"
    public static let claimToStart = "kaji_claim_to_start_seconds"

    /// Bucket bounds of step durations (seconds): from 5 ms to 30 min (a kubeadm init takes minutes).
    public static let stepBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
    /// Bucket bounds of run durations (seconds): up to 2 h; 1800 (30 min) is the built-in SLO's threshold
    /// for provisioning time to Ready.
    public static let runBuckets: [Double] = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200]
    /// Bucket bounds of claim-to-start latency (seconds).
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Every metric the engine emits, with its HELP text.
    public static let descriptions: [MetricDescription] = [
        MetricDescription(runsStarted, .counter, "Executions of runs begun by this worker (a claimed run; a resumed run counts again), by kind."),
        MetricDescription(runsFinished, .counter,
                          "Executions of runs ended by this worker, by kind and outcome: succeeded, failed, cancelled (the run ended), retrying, suspended, released, fenced (lease lost), abandoned (database error)."),
        MetricDescription(runDuration, .histogram,
                          "Runs that ended here (succeeded, failed, cancelled): seconds from their first start to their end, not counting time spent waiting for signals such as approvals.",
                          buckets: runBuckets),
        MetricDescription(runRetries, .counter, "Failed run attempts scheduled for another attempt of the whole run, by kind."),
        MetricDescription(runSuspensions, .counter,
                          "Executions that suspended their run, by kind and what it waits for: sleep, signal (approvals among them), poll, retry (a step retry due later)."),
        MetricDescription(stepDuration, .histogram,
                          "Seconds each step attempt's body took, by kind, step family (the step name without gN/ and without what follows its first colon) and outcome (succeeded, failed).",
                          buckets: stepBuckets),
        MetricDescription(stepRetries, .counter, "Failed step attempts that will be tried again, by kind and step family."),
        MetricDescription(claimToStart, .histogram,
                          "Seconds from a claim returning a run to its workflow starting (checkpoints loaded), by kind.",
                          buckets: latencyBuckets),
    ]

    /// The step family of a step name: without a `gN/` prefix (a retried pass) and without what follows its
    /// first `:` (a node name, a sequence number). `g2/create-server:prod-a-master-1` → `create-server`,
    /// `sleep:3` → `sleep`, `approval` → `approval`.
    public static func stepFamily(_ step: String) -> String {
        var name = Substring(step)
        if name.first == "g", let slash = name.firstIndex(of: "/") {
            let digits = name[name.index(after: name.startIndex)..<slash]
            if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) {
                name = name[name.index(after: slash)...]
            }
        }
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        return name.isEmpty ? "unnamed" : String(name)
    }

    // MARK: emitting (nothing at all with the no-op factory)

    func kindLabel(_ kind: String) -> String { guardian.admit(kind, scope: "") }

    func familyLabel(kind: String, step: String) -> String { guardian.admit(Self.stepFamily(step), scope: kind) }

    func runStarted(kind: String) {
        guard isEnabled else { return }
        Counter(label: Self.runsStarted, dimensions: [("kind", kindLabel(kind))], factory: factory).increment()
    }

    func runFinished(kind: String, outcome: RunOutcome) {
        guard isEnabled else { return }
        Counter(label: Self.runsFinished, dimensions: [("kind", kindLabel(kind)), ("outcome", outcome.metricLabel)], factory: factory).increment()
    }

    func runDuration(kind: String, outcome: RunOutcome, seconds: Double) {
        guard isEnabled else { return }
        CoreMetrics.Timer(label: Self.runDuration, dimensions: [("kind", kindLabel(kind)), ("outcome", outcome.metricLabel)], factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    func runRetried(kind: String) {
        guard isEnabled else { return }
        Counter(label: Self.runRetries, dimensions: [("kind", kindLabel(kind))], factory: factory).increment()
    }

    func runSuspended(kind: String, waitingFor: String) {
        guard isEnabled else { return }
        Counter(label: Self.runSuspensions, dimensions: [("kind", kindLabel(kind)), ("wait", waitingFor)], factory: factory).increment()
    }

    func stepAttempt(kind: String, step: String, succeeded: Bool, duration: Duration) {
        guard isEnabled else { return }
        CoreMetrics.Timer(label: Self.stepDuration,
              dimensions: [("kind", kindLabel(kind)), ("family", familyLabel(kind: kind, step: step)), ("outcome", succeeded ? "succeeded" : "failed")],
              factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    func stepRetried(kind: String, step: String) {
        guard isEnabled else { return }
        Counter(label: Self.stepRetries, dimensions: [("kind", kindLabel(kind)), ("family", familyLabel(kind: kind, step: step))], factory: factory).increment()
    }

    func claimToStart(kind: String, duration: Duration) {
        guard isEnabled else { return }
        CoreMetrics.Timer(label: Self.claimToStart, dimensions: [("kind", kindLabel(kind))], factory: factory).recordNanoseconds(duration.nanoseconds)
    }
}

extension RunOutcome {
    /// The `outcome` label of `kaji_runs_finished_total`.
    public var metricLabel: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .retrying: "retrying"
        case .suspended: "suspended"
        case .released: "released"
        case .fenced: "fenced"
        case .abandoned: "abandoned"
        }
    }

    /// Whether the run itself ended (succeeded, failed or cancelled), not only this execution.
    public var endsRun: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        default: false
        }
    }
}

extension Duration {
    /// Whole nanoseconds (negative durations count as 0).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Keeps label values bounded: the first `EngineMetrics.maxLabelValues` values seen in a scope pass, the
/// rest become `other`.
final class LabelGuard: Sendable {
    private let seen = Mutex<[String: Set<String>]>([:])

    func admit(_ value: String, scope: String) -> String {
        seen.withLock { seen in
            if seen[scope]?.contains(value) == true { return value }
            if seen[scope, default: []].count >= EngineMetrics.maxLabelValues { return "other" }
            seen[scope, default: []].insert(value)
            return value
        }
    }
}
