import Foundation

/// Thrown inside a run to suspend it: the run gives up its worker slot and lease and is claimed again at
/// `until`. Workflows never catch it; the executor records the suspension.
public struct RunSuspension: Error, Sendable, CustomStringConvertible {
    public let until: Date
    public let state: RunState
    public let reason: String
    /// What a `waiting` run waits for (nil: a step retry, or not said); the `wait` label of
    /// `kaji_run_suspensions_total`.
    public let wait: WaitKind?

    /// - Parameter wait: what the run waits for (default nil: a retry, or not said).
    public init(until: Date, state: RunState, reason: String, wait: WaitKind? = nil) {
        self.until = until
        self.state = state
        self.reason = reason
        self.wait = wait
    }

    public var description: String { "suspended until \(KajiJSON.format(until)): \(reason)" }

    /// The `wait` label of `kaji_run_suspensions_total`: `sleep`, `signal`, `poll`, or `retry`.
    var metricWait: String { state == .retrying ? "retry" : wait?.rawValue ?? "unknown" }
}

/// A step that failed after its last attempt, or with a non-retryable error.
public struct StepFailure: RetryClassifying, CustomStringConvertible, Sendable {
    public let step: String
    public let attempts: Int
    public let message: String
    /// Whether a new attempt of the whole run (with a fresh step budget) could help.
    public let isRetryable: Bool

    public var description: String { "step '\(step)' failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(message)" }
}

/// Thrown at a step boundary when someone asked to cancel the run.
struct RunCancelRequested: Error {}

/// A wait that ran out of time: for a signal, or for a polled condition (with its last observation).
public struct WaitTimeout: RetryClassifying, CustomStringConvertible, Sendable {
    public let step: String
    public let message: String
    public var isRetryable: Bool { false }
    public var description: String { message }
}

/// An operator rejected the run's approval.
public struct ApprovalRejected: RetryClassifying, CustomStringConvertible, Sendable {
    public let rejectedBy: String
    public let reason: String?
    public var isRetryable: Bool { false }
    public var description: String { "rejected by \(rejectedBy)\(reason.map { ": \($0)" } ?? "")" }
}
