import Foundation

/// Thrown inside a run to suspend it: the run gives up its worker slot and lease and is claimed again at
/// `until`. Workflows never catch it; the executor records the suspension.
public struct RunSuspension: Error, Sendable, CustomStringConvertible {
    public let until: Date
    public let state: RunState
    public let reason: String

    public init(until: Date, state: RunState, reason: String) {
        self.until = until
        self.state = state
        self.reason = reason
    }

    public var description: String { "suspended until \(KajiJSON.format(until)): \(reason)" }
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
