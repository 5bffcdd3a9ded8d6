import Foundation

/// The workflows a process knows, by kind. Enqueueing checks the kind and decodes the input here first,
/// so that bad input is refused before anything is stored.
public struct WorkflowRegistry: Sendable {
    struct Entry: Sendable {
        let kind: String
        let retryPolicy: RetryPolicy
        let validate: @Sendable (String) throws -> Void
        let concurrencyKey: @Sendable (String) throws -> String?
        let execute: @Sendable (String, WorkflowContext) async throws -> String
        let compensate: (@Sendable (String, WorkflowContext) async throws -> Void)?
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// Registers a workflow instance under its `kind`. Registering a kind twice replaces the first.
    public mutating func register<W: Workflow>(_ workflow: W) {
        add(workflow, compensate: nil)
    }

    /// Registers a workflow with undo steps.
    public mutating func register<W: CompensatingWorkflow>(_ workflow: W) {
        add(workflow) { json, context in
            let input = try Self.decodeInput(W.Input.self, kind: W.kind, json: json)
            try await workflow.compensate(input, context: context)
        }
    }

    private mutating func add<W: Workflow>(_ workflow: W, compensate: (@Sendable (String, WorkflowContext) async throws -> Void)?) {
        entries[W.kind] = Entry(
            kind: W.kind,
            retryPolicy: W.retryPolicy,
            validate: { json in _ = try Self.decodeInput(W.Input.self, kind: W.kind, json: json) },
            concurrencyKey: { json in W.concurrencyKey(for: try Self.decodeInput(W.Input.self, kind: W.kind, json: json)) },
            execute: { json, context in
                let input = try Self.decodeInput(W.Input.self, kind: W.kind, json: json)
                let output = try await workflow.run(input, context: context)
                return try KajiJSON.string(output)
            },
            compensate: compensate
        )
    }

    /// Whether the kind has undo steps (a cancel then runs them before the run ends).
    public func hasCompensation(kind: String) -> Bool { entries[kind]?.compensate != nil }

    /// The registered kinds, sorted.
    public var kinds: [String] { entries.keys.sorted() }

    func entry(_ kind: String) -> Entry? { entries[kind] }

    /// The run-level retry policy of a kind.
    public func retryPolicy(kind: String) throws -> RetryPolicy {
        guard let entry = entries[kind] else { throw unknownKind(kind) }
        return entry.retryPolicy
    }

    /// Checks that the kind is known and the input decodes into its input type. Errors name the kind or the
    /// input field that is wrong.
    public func validate(kind: String, input: String) throws {
        guard let entry = entries[kind] else { throw unknownKind(kind) }
        try entry.validate(input)
    }

    /// The concurrency key a run of `kind` with `input` carries: the kind's own rule when it has one (see
    /// `Workflow.concurrencyKey(for:)`), else `given`. A `given` key that differs from the rule's is refused
    /// (`invalidArgument`, naming `--concurrency-key`); nothing is enqueued then.
    public func concurrencyKey(kind: String, input: String, given: String?) throws -> String? {
        guard let entry = entries[kind] else { throw unknownKind(kind) }
        guard let required = try entry.concurrencyKey(input) else { return given }
        if let given, given != required {
            throw KajiError(.invalidArgument, "--concurrency-key '\(given)' does not fit \(kind): its runs carry '\(required)' (the key kaji apply uses), so that two operations on one cluster never overlap; leave --concurrency-key out")
        }
        return required
    }

    private func unknownKind(_ kind: String) -> KajiError {
        KajiError(.unknownKind, "unknown workflow kind '\(kind)' (known: \(kinds.joined(separator: ", ")))")
    }

    static func decodeInput<T: Decodable>(_ type: T.Type, kind: String, json: String) throws -> T {
        do {
            return try KajiJSON.decode(type, from: json)
        } catch {
            throw KajiError(.invalidInput, "input for \(kind) is not valid: \(KajiJSON.describe(error))")
        }
    }
}
