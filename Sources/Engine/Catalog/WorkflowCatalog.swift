import Foundation

/// The workflow kinds a client knows, apart from the services that run them: enough to check a request
/// (kind, input, concurrency key), to know a kind's retry policy and whether a cancel runs undo steps.
/// Any client (the CLI, an HTTP server, a test) uses a catalog; only a worker binds the entries to
/// services, in a `WorkflowRegistry`.
public struct WorkflowCatalog: Sendable {
    private var entries: [String: WorkflowKind] = [:]

    /// A catalog of the given entries (later entries replace earlier ones of the same kind).
    public init(_ kinds: [WorkflowKind] = []) {
        for kind in kinds { add(kind) }
    }

    /// Adds an entry; an entry of the same kind is replaced.
    public mutating func add(_ entry: WorkflowKind) {
        entries[entry.kind] = entry
    }

    /// Adds a workflow type.
    public mutating func add<W: Workflow>(_ type: W.Type) { add(WorkflowKind(type)) }

    /// Adds a workflow type with undo steps.
    public mutating func add<W: CompensatingWorkflow>(_ type: W.Type) { add(WorkflowKind(type)) }

    /// This catalog with every entry of `other` added (`other` wins for a kind in both).
    public func merging(_ other: WorkflowCatalog) -> WorkflowCatalog {
        var merged = self
        for entry in other.entries.values { merged.add(entry) }
        return merged
    }

    /// The entry of `kind`, or nil.
    public subscript(kind: String) -> WorkflowKind? { entries[kind] }

    /// The known kinds, sorted.
    public var kinds: [String] { entries.keys.sorted() }

    /// The entries, sorted by kind.
    public var all: [WorkflowKind] { kinds.compactMap { entries[$0] } }

    /// The entry of `kind`; throws `unknownKind` (field `kind`) listing the known kinds.
    public func entry(_ kind: String) throws -> WorkflowKind {
        guard let entry = entries[kind] else {
            throw KajiError(.unknownKind, "unknown workflow kind '\(kind)' (known: \(kinds.joined(separator: ", ")))", field: "kind")
        }
        return entry
    }

    /// Checks that the kind is known and the input decodes into its input type. Errors name the kind or the
    /// input field that is wrong.
    public func validate(kind: String, input: String) throws {
        try entry(kind).validate(input: input)
    }

    /// The run-level retry policy of a kind.
    public func retryPolicy(kind: String) throws -> RetryPolicy {
        try entry(kind).retryPolicy
    }

    /// Whether the kind has undo steps (false for an unknown kind).
    public func hasCompensation(kind: String) -> Bool { entries[kind]?.hasCompensation ?? false }

    /// The concurrency key a run of `kind` with `input` carries: the kind's own rule when it has one (see
    /// `Workflow.concurrencyKey(for:)`), else `given`. A `given` key that differs from the rule's is refused
    /// (`invalidArgument`, field `concurrencyKey`); nothing is enqueued then.
    public func concurrencyKey(kind: String, input: String, given: String?) throws -> String? {
        guard let required = try entry(kind).requiredConcurrencyKey(input: input) else { return given }
        if let given, given != required {
            throw KajiError(.invalidArgument, "concurrencyKey '\(given)' does not fit \(kind): its runs carry '\(required)' (the key kaji apply uses), so that two operations on one cluster never overlap; leave the key out", field: "concurrencyKey")
        }
        return required
    }

    /// The engine's own diagnostic workflows, `diag.steps` and `diag.secret`.
    public static let diagnostics = WorkflowCatalog([WorkflowKind(DiagWorkflow.self), WorkflowKind(DiagSecretWorkflow.self)])
}
