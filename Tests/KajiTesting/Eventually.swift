import Engine

/// Evaluates `condition` until it holds, waiting `interval` between evaluations, and throws once `timeout`
/// has passed without it holding. Waits on an outcome, not on time.
///
/// Each evaluation is bounded by what is left of the deadline: it runs in a task of its own, raced against
/// the deadline (`withDeadline`), so a condition that hangs (a query on a dead connection) fails the wait
/// at the deadline instead of hanging the test. A hung evaluation is abandoned, not awaited. Evaluations run
/// one after the other, never two at once, so the condition may update state of its caller's (`last = ...`);
/// the caller reads that state only after `eventually` returned.
package func eventually(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(25),
    _ condition: @escaping () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    let evaluate = UncheckedSendableBox(condition)
    while true {
        let left = max(clock.now.duration(to: deadline), .milliseconds(1))
        guard let holds = try await withDeadline(left, { try await evaluate.value() }) else {
            throw KajiTestingError("timed out after \(timeout) waiting until \(what) (the last check did not answer)")
        }
        if holds { return }
        if clock.now >= deadline {
            throw KajiTestingError("timed out after \(timeout) waiting until \(what)")
        }
        try await Task.sleep(for: interval)
    }
}

/// Hands a value that is used by one task at a time to another task.
struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
