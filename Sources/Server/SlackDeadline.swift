import Dispatch
import Foundation
import Synchronization

/// Slack shows an error when a command is not answered within 3 s. `SlackDeadline.race` runs the work in
/// a task of its own and returns its value if it comes within `timeout`; otherwise it returns nil at once
/// (the caller answers "the result follows") and, once the work is done, hands its value to `late`, which
/// posts it to the `response_url`. Exactly one of the two gets the value. A timeout of zero (or less)
/// returns nil at once and hands every value to `late`.
enum SlackDeadline {
    static func race<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async -> T,
                                  late: @escaping @Sendable (T) async -> Void) async -> T? {
        if timeout <= .zero {
            Task { await late(await work()) }
            return nil
        }
        let settled = Mutex(false)
        let claim: @Sendable () -> Bool = {
            settled.withLock { done in
                if done { return false }
                done = true
                return true
            }
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let timer = DispatchWorkItem {
                if claim() { continuation.resume(returning: nil) }
            }
            let millis = max(1, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(millis), execute: timer)
            Task {
                let value = await work()
                timer.cancel()
                if claim() {
                    continuation.resume(returning: value)
                } else {
                    await late(value)
                }
            }
        }
    }
}
