import Foundation
import PostgresNIO

extension RunStore {
    /// Runs `body` in one transaction that first takes the run's fence (`appendInterpolation(fence:)`: still
    /// `running`, owned by this worker under the lease's epoch and claim token), and its row stays share-locked until the transaction ends, so no one can take the
    /// run over (rescue, cancel, finish) while `body` writes. Throws `leaseLost` and runs nothing when the
    /// fence does not hold. Whatever `body` writes on the connection it is given commits with the fence or
    /// not at all; `body`'s own error rolls it back and is rethrown unchanged.
    ///
    public func fenced<T: Sendable>(_ lease: LeaseToken, step: String? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await inTransactionUnwrapped { connection in
            let fence: PostgresQuery = """
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
                """
            var held = false
            for try await _ in try await connection.query(fence, logger: logger).decode(UUID.self) { held = true }
            guard held else {
                let what = step.map { "step '\($0)' of run \(lease.runID)" } ?? "run \(lease.runID)"
                throw KajiError(.leaseLost, "\(what) is no longer held under epoch \(lease.epoch): its write was refused")
            }
            return try await body(connection)
        }
    }
}
