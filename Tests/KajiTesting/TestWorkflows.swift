import Engine
import Foundation
import Synchronization

// Workflows of the engine tests, in the kit because the engine tests and the process tests both use them.

/// Counts how often each step body ran, in this process.
package final class ExecutionCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    package init() {}
    package func hit(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
    package func count(_ key: String) -> Int { counts.withLock { $0[key] ?? 0 } }
}

/// Step A, then step B that fails (one attempt per step) on the run's first attempt: the run is retried and B
/// succeeds, A must not run again.
package struct ResumeWorkflow: Workflow {
    package static let kind = "test.resume"
    package static var retryPolicy: RetryPolicy { RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10)) }
    package struct Input: Codable, Sendable { package var tag: String; package init(tag: String) { self.tag = tag } }
    let counter: ExecutionCounter
    package init(counter: ExecutionCounter) { self.counter = counter }

    package func run(_ input: Input, context: WorkflowContext) async throws -> [String] {
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
package struct DuplicateStepWorkflow: Workflow {
    package static let kind = "test.duplicate"
    package init() {}
    package struct Input: Codable, Sendable { package init() {} }
    package func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
        _ = try await context.step("same") { _ in 1 }
        _ = try await context.step("same") { _ in 2 }
        return NoOutput()
    }
}

/// Fans out `width` steps in a task group.
package struct FanOutWorkflow: Workflow {
    package static let kind = "test.fanout"
    package init() {}
    package struct Input: Codable, Sendable { package var width: Int; package init(width: Int) { self.width = width } }
    package func run(_ input: Input, context: WorkflowContext) async throws -> [Int] {
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
package struct FailingWorkflow: Workflow {
    package static let kind = "test.failing"
    package struct Input: Codable, Sendable { package var retryable: Bool; package var attempts: Int; package init(retryable: Bool, attempts: Int) { self.retryable = retryable; self.attempts = attempts } }
    let counter: ExecutionCounter
    package init(counter: ExecutionCounter) { self.counter = counter }
    package func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
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

/// Waits for an approval by someone other than the requester, then does one step.
package struct ApprovalWorkflow: Workflow {
    package static let kind = "test.approval"
    package init() {}
    package struct Input: Codable, Sendable { package init() {} }
    package func run(_ input: Input, context: WorkflowContext) async throws -> Approval {
        let approval = try await context.waitForApproval()
        _ = try await context.step("after-approval") { _ in "done" }
        return approval
    }
}

/// Polls a counter until it reaches `target`; never done when `target` is 0.
package struct PollWorkflow: Workflow {
    package static let kind = "test.poll"
    package struct Input: Codable, Sendable { package var target: Int; package var everyMillis: Int; package var timeoutMillis: Int; package init(target: Int, everyMillis: Int, timeoutMillis: Int) { self.target = target; self.everyMillis = everyMillis; self.timeoutMillis = timeoutMillis } }
    let counter: ExecutionCounter
    package init(counter: ExecutionCounter) { self.counter = counter }
    package func run(_ input: Input, context: WorkflowContext) async throws -> Int {
        let counter = self.counter, runID = context.runID
        return try await context.waitUntil("disk-ready", every: .milliseconds(input.everyMillis), timeout: .milliseconds(input.timeoutMillis)) {
            counter.hit("\(runID)/poll")
            let polls = counter.count("\(runID)/poll")
            if input.target > 0 && polls >= input.target { return .done(polls) }
            return .notYet("disk is migrating (poll \(polls))")
        }
    }
}

/// Creates something, then fails for good (or waits for a signal to be cancelled); its compensation
/// undoes what was created, once.
package struct CompensatingTestWorkflow: CompensatingWorkflow {
    package static let kind = "test.compensating"
    package struct Input: Codable, Sendable { package var failAfterCreate: Bool; package var blockMillis: Int; package init(failAfterCreate: Bool, blockMillis: Int) { self.failAfterCreate = failAfterCreate; self.blockMillis = blockMillis } }
    let counter: ExecutionCounter
    package init(counter: ExecutionCounter) { self.counter = counter }
    package func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
        let counter = self.counter, runID = context.runID
        _ = try await context.step("create") { _ in
            counter.hit("\(runID)/create")
            return "thing-1"
        }
        _ = try await context.step("work", retry: .never) { _ -> String in
            if input.blockMillis > 0 { try await Task.sleep(for: .milliseconds(input.blockMillis)) }
            if input.failAfterCreate { throw WorkflowError("work broke", nonRetryable: true) }
            return "ok"
        }
        return NoOutput()
    }

    package func compensate(_ input: Input, context: WorkflowContext) async throws {
        let counter = self.counter, runID = context.runID
        if let created = try context.result(of: "create", as: String.self) {
            _ = try await context.step("undo:create") { _ in
                counter.hit("\(runID)/undo:\(created)")
                return true
            }
        }
    }
}

package func testRegistry(counter: ExecutionCounter = ExecutionCounter()) -> WorkflowRegistry {
    var registry = WorkflowRegistry()
    registry.register(ApprovalWorkflow())
    registry.register(PollWorkflow(counter: counter))
    registry.register(CompensatingTestWorkflow(counter: counter))
    registry.register(DiagWorkflow(logPath: nil))
    registry.register(ResumeWorkflow(counter: counter))
    registry.register(DuplicateStepWorkflow())
    registry.register(FanOutWorkflow())
    registry.register(FailingWorkflow(counter: counter))
    return registry
}
