import Foundation

/// The workflows a worker runs: catalog entries bound to workflow instances, which carry their services
/// (cloud client, SSH, clock). Only a worker (and a test that runs workflows) builds one; every other client
/// needs only the `WorkflowCatalog` (see `catalog`).
public struct WorkflowRegistry: Sendable {
    struct Entry: Sendable {
        let kind: WorkflowKind
        let execute: @Sendable (String, WorkflowContext) async throws -> String
        let compensate: (@Sendable (String, WorkflowContext) async throws -> Void)?

        var retryPolicy: RetryPolicy { kind.retryPolicy }
    }

    private var entries: [String: Entry] = [:]

    /// The catalog of the registered kinds.
    public private(set) var catalog = WorkflowCatalog()

    public init() {}

    /// Registers a workflow instance (with its services) under its `kind`. Registering a kind twice
    /// replaces the first.
    public mutating func register<W: Workflow>(_ workflow: W) {
        add(workflow, entry: WorkflowKind(W.self), compensate: nil)
    }

    /// Registers a workflow with undo steps.
    public mutating func register<W: CompensatingWorkflow>(_ workflow: W) {
        add(workflow, entry: WorkflowKind(W.self)) { json, context in
            let input = try WorkflowKind.decode(W.Input.self, kind: W.kind, json: json)
            try await workflow.compensate(input, context: context)
        }
    }

    private mutating func add<W: Workflow>(_ workflow: W, entry kind: WorkflowKind,
                                           compensate: (@Sendable (String, WorkflowContext) async throws -> Void)?) {
        catalog.add(kind)
        entries[W.kind] = Entry(
            kind: kind,
            execute: { json, context in
                let input = try WorkflowKind.decode(W.Input.self, kind: W.kind, json: json)
                let output = try await workflow.run(input, context: context)
                return try KajiJSON.string(output)
            },
            compensate: compensate
        )
    }

    /// The registered kinds, sorted.
    public var kinds: [String] { entries.keys.sorted() }

    func entry(_ kind: String) -> Entry? { entries[kind] }
}
