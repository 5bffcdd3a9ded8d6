import Dispatch
import Foundation
import Synchronization

/// Runs `work` and returns its value, or nil once `timeout` has passed without one, without waiting for
/// `work` to end: a query that lands on a connection the server just dropped can hang for good
/// (postgres-nio does not always fail it), and a structured task group would wait for it. The abandoned
/// work keeps running in the background and its result is discarded. Cancelling the caller does not
/// cancel `work` (it runs in a task of its own).
public func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T? {
    let settled = Mutex(false)
    let claim: @Sendable () -> Bool = {
        settled.withLock { done in
            if done { return false }
            done = true
            return true
        }
    }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
        let timer = DispatchWorkItem {
            if claim() { continuation.resume(returning: nil) }
        }
        let millis = Int(max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(millis), execute: timer)
        Task {
            do {
                let value = try await work()
                timer.cancel()
                if claim() { continuation.resume(returning: value) }
            } catch {
                timer.cancel()
                if claim() { continuation.resume(throwing: error) }
            }
        }
    }
}
