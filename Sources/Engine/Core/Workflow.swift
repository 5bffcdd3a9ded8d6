import Foundation

/// A durable workflow: named steps whose results are checkpointed in PostgreSQL, so that a run resumes
/// where it stopped after a crash. Side effects belong in steps; code between steps runs again on resume.
///
/// Services (cloud client, SSH, clock) are injected through the workflow's `init`, so that tests can hand
/// in real local stand-ins.
public protocol Workflow: Sendable {
    associatedtype Input: Codable & Sendable
    associatedtype Output: Codable & Sendable

    /// A stable name that never changes when the type is renamed, e.g. `"cluster.provision"`.
    static var kind: String { get }

    /// Attempts of the whole run (default: one attempt; steps retry on their own).
    static var retryPolicy: RetryPolicy { get }

    /// The concurrency key every run of this kind must carry for `input` (e.g. `cluster:prod-a`, so that two
    /// operations on one cluster never overlap), or nil when the kind has no such rule (the default). An
    /// enqueue without a key gets this one; an enqueue with a different key is refused.
    static func concurrencyKey(for input: Input) -> String?

    /// Whether runs of this kind wait for an operator's approval (default `.none`). A declaration for
    /// clients (the catalog): the workflow itself waits with `context.waitForApproval`.
    static var approval: ApprovalRule { get }

    /// Runs the workflow. Called again on every resume; finished steps return their stored results.
    func run(_ input: Input, context: WorkflowContext) async throws -> Output
}

extension Workflow {
    public static var retryPolicy: RetryPolicy { .never }
    public static func concurrencyKey(for input: Input) -> String? { nil }
    public static var approval: ApprovalRule { .none }
}

/// A workflow with undo steps: `compensate` runs once after a final failure or a cancel, before the run
/// ends `failed` or `cancelled`. Use `context.result(of:)` to undo only what was done; undo steps are
/// ordinary checkpointed steps with names of their own (e.g. `"undo:create-switch"`), so a crash during
/// compensation resumes it without repeating finished undo steps.
public protocol CompensatingWorkflow: Workflow {
    func compensate(_ input: Input, context: WorkflowContext) async throws
}

/// A workflow with no output.
public struct NoOutput: Codable, Sendable, Equatable {
    public init() {}
}
