import Foundation
import PostgresNIO

extension RunStore {
    /// Runs `body` in one transaction on one pooled connection; rethrows the body's own error (not
    /// postgres-nio's wrapper), so that `KajiError`s keep their code.
    func inTransactionUnwrapped<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError { throw inner }
            if let commit = error.commitError { throw commit }
            if let begin = error.beginError { throw begin }
            throw error
        }
    }
}
