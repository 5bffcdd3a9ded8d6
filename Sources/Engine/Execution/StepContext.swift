import Foundation
import Logging

/// What a step's body knows about the attempt it runs in.
public struct StepContext: Sendable {
    public let runID: UUID
    public let step: String
    /// The attempt within the current retry budget, from 1.
    public let attempt: Int
    /// Attempts of this step over the run's whole life, this one included.
    public let totalAttempts: Int
    /// The lease epoch of this execution. Side effects can carry it to fence themselves: a higher epoch
    /// means a newer owner.
    public let epoch: Int64
    /// The worker running the step.
    public let worker: String
    public let logger: Logger
    let lease: LeaseToken
    let store: RunStore

    /// Throws `leaseLost` when this worker no longer holds the run (call before a side effect that must not
    /// happen twice).
    public func checkLease() async throws {
        guard try await store.holdsLease(lease) else {
            throw KajiError(.leaseLost, "run \(runID) is no longer held under epoch \(epoch)")
        }
    }
}
