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
    let control: RunControl

    /// Throws `leaseLost` unless this worker still holds the run with time left on its lease: by its own
    /// clock (a worker that could not renew in time stops by itself), then in the database (owner, claim
    /// token and epoch match and the lease has not run out). Call it before a side effect that must not
    /// happen twice.
    public func checkLease() async throws {
        guard control.leaseLooksHeld else {
            throw KajiError(.leaseLost, "run \(runID): this worker could not renew its lease in time (epoch \(epoch)); it stops here")
        }
        guard try await engine("checking the lease", { [self] in try await store.holdsLease(lease) }) else {
            throw KajiError(.leaseLost, "run \(runID) is no longer held under epoch \(epoch)")
        }
    }

    /// Runs one of the engine's writes: a transient database error becomes an `EngineFault`.
    func engine<T: Sendable>(_ operation: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await engineCall(control, operation(), body)
    }
}
