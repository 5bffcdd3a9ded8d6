import Foundation

extension WorkflowContext {
    /// Fans out: runs `body` for every element concurrently (the steps inside carry the element's name, e.g.
    /// `"create-server:\(node.name)"`) and returns their results in element order, once all have ended.
    /// Use it rather than a bare task group: see `forEachInParallel`.
    public func parallel<Element: Sendable, Result: Sendable>(
        _ elements: [Element], _ body: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        try await forEachInParallel(elements, body)
    }
}

/// Runs `body` for every element concurrently (steps inside carry the element's name) and waits for all
/// of them, even when some stop early.
///
/// Unlike a plain throwing task group, one branch that suspends (a durable wait not yet satisfied, or a
/// step retry due later) does not cancel its siblings mid-step: each branch goes as far as it can, then
/// the run suspends until the earliest wake-up among them. A real failure wins over suspensions, and the
/// first failure in element order is the one reported. When the run's task was cancelled, the result is
/// `CancellationError`.
func forEachInParallel<Element: Sendable, Result: Sendable>(
    _ elements: [Element], _ body: @escaping @Sendable (Element) async throws -> Result
) async throws -> [Result] {
    let outcomes = await withTaskGroup(of: (Int, Swift.Result<Result, any Error>).self) { group in
        for (index, element) in elements.enumerated() {
            group.addTask {
                do {
                    return (index, .success(try await body(element)))
                } catch {
                    return (index, .failure(error))
                }
            }
        }
        var outcomes: [(Int, Swift.Result<Result, any Error>)] = []
        for await outcome in group { outcomes.append(outcome) }
        return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
    }
    // The run's task was cancelled (a cancel request, a drain, a lost lease): report that, not whatever a
    // cancelled branch happened to throw, so the executor records the cancel from an uncancelled task.
    if Task.isCancelled { throw CancellationError() }
    var results: [Result] = []
    var earliest: RunSuspension?
    for outcome in outcomes {
        switch outcome {
        case .success(let value):
            results.append(value)
        case .failure(let suspension as RunSuspension):
            if earliest.map({ suspension.until < $0.until }) ?? true { earliest = suspension }
        case .failure(let error):
            throw error
        }
    }
    if let earliest { throw earliest }
    return results
}
