import Foundation
import Synchronization

/// Runs `work` and returns its value, or nil once `timeout` has passed without one, without waiting for
/// `work` to end: a query on a connection the server dropped can hang for good (postgres-nio does not
/// always fail it), and a structured task group would wait for it. The abandoned work keeps running in
/// the background and its result is discarded.
public func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T? {
    let settled = Mutex(false)
    let claim: @Sendable () -> Bool = { settled.withLock { done in
        if done { return false }
        done = true
        return true
    } }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
        Task {
            do {
                let value = try await work()
                if claim() { continuation.resume(returning: value) }
            } catch {
                if claim() { continuation.resume(throwing: error) }
            }
        }
        Task {
            try? await Task.sleep(for: timeout)
            if claim() { continuation.resume(returning: nil) }
        }
    }
}
