import Engine
import Foundation
import Synchronization

/// Counts how often each step body ran, in this process.
final class ExecutionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func hit(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
    func count(_ key: String) -> Int { counts.withLock { $0[key] ?? 0 } }
}

/// Step A, then step B that fails (one attempt per step) on the run's first attempt: the run is retried and B
/// succeeds, A must not run again.
struct ResumeWorkflow: Workflow {
    static let kind = "test.resume"
    static var retryPolicy: RetryPolicy { RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10)) }
    struct Input: Codable, Sendable { var tag: String }
    let counter: ExecutionCounter

    func run(_ input: Input, context: WorkflowContext) async throws -> [String] {
        let counter = self.counter
        let a = try await context.step("a") { _ in
            counter.hit("\(input.tag)/a")
            return "a-result"
        }
        let attempt = context.attempt
        let b = try await context.step("b", retry: .never) { _ in
            counter.hit("\(input.tag)/b")
            if attempt == 1 { throw WorkflowError("b breaks on the first run attempt") }
            return "b-result"
        }
        return [a, b]
    }
}

/// Uses the same step name twice.
struct DuplicateStepWorkflow: Workflow {
    static let kind = "test.duplicate"
    struct Input: Codable, Sendable {}
    func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
        _ = try await context.step("same") { _ in 1 }
        _ = try await context.step("same") { _ in 2 }
        return NoOutput()
    }
}

/// Fans out `width` steps in a task group.
struct FanOutWorkflow: Workflow {
    static let kind = "test.fanout"
    struct Input: Codable, Sendable { var width: Int }
    func run(_ input: Input, context: WorkflowContext) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<input.width {
                group.addTask {
                    try await context.step("node:\(i)") { _ in
                        try await Task.sleep(for: .milliseconds(20))
                        return i * i
                    }
                }
            }
            var results: [Int] = []
            for try await r in group { results.append(r) }
            return results.sorted()
        }
    }
}

/// A step that always fails: retryable or not.
struct FailingWorkflow: Workflow {
    static let kind = "test.failing"
    struct Input: Codable, Sendable { var retryable: Bool; var attempts: Int }
    let counter: ExecutionCounter
    func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
        let counter = self.counter
        _ = try await context.step("first") { step in
            counter.hit("\(step.runID)/first")
            return "ok"
        }
        _ = try await context.step("breaks", retry: RetryPolicy(maxAttempts: input.attempts, initialDelay: .milliseconds(5))) { step -> String in
            counter.hit("\(step.runID)/breaks")
            throw WorkflowError("the thing is broken (attempt \(step.attempt))", nonRetryable: !input.retryable)
        }
        return NoOutput()
    }
}

func testRegistry(counter: ExecutionCounter = ExecutionCounter()) -> WorkflowRegistry {
    var registry = WorkflowRegistry()
    registry.register(DiagWorkflow(logPath: nil))
    registry.register(ResumeWorkflow(counter: counter))
    registry.register(DuplicateStepWorkflow())
    registry.register(FanOutWorkflow())
    registry.register(FailingWorkflow(counter: counter))
    return registry
}
