import Foundation
import PostgresNIO

extension StepContext {
    /// Runs `body` on a database connection inside one transaction fenced like a checkpoint: it first checks
    /// that this worker still holds the run under this step's epoch (and share-locks the run's row until the
    /// transaction ends), then runs `body` on the same connection; `body`'s writes commit together with that
    /// check or not at all. Use it for a step's own writes to tables outside the engine (e.g. an inventory),
    /// so that a worker that lost the run cannot overwrite the new owner's work.
    ///
    /// Throws `KajiError(.leaseLost, …)` without running `body` when the lease is gone. An error thrown by
    /// `body` rolls the transaction back and is rethrown as it is.
    public func fenced<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        guard control.leaseLooksHeld else {
            throw KajiError(.leaseLost, "run \(runID): this worker could not renew its lease in time (epoch \(epoch)); step '\(step)' writes nothing")
        }
        // Bounded like the engine's own writes: a transaction that lands on a connection the server just
        // dropped can hang for good; past the bound the step fails retryably and is tried again.
        let store = self.store, lease = self.lease, step = self.step
        guard let value = try await withDeadline(engineWriteTimeout, { try await store.fenced(lease, step: step, body) }) else {
            throw KajiError(.databaseUnavailable, "step '\(step)': the database did not answer within \(engineWriteTimeout)")
        }
        return value
    }
}
