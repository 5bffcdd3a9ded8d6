import Foundation

/// Whether runs of a kind wait for an operator's approval before they change anything.
public enum ApprovalRule: String, Codable, Sendable {
    /// No approval (the default).
    case none
    /// An operator approves (`kaji approve`); the requester may.
    case required
    /// An operator other than the one who enqueued the run approves (four eyes): the requester's principal
    /// (`token:NAME`, `slack:TEAM/USER`, `cli:USER` on any host) cannot approve, and by default neither can
    /// the database-direct CLI (see `WorkflowKind.databaseDirectApproval`).
    case distinctApprover = "distinct-approver"
}

/// One entry of the catalog: what any client needs to know about a workflow kind without running it (and
/// without the services a worker gives the workflow): its input type and validation, its run-level retry
/// policy, whether it has undo steps, its concurrency-key rule, whether it waits for an approval and whether
/// an approval from the database-direct CLI counts.
public struct WorkflowKind: Sendable {
    /// The stable kind name, e.g. `cluster.provision`.
    public let kind: String
    /// The Swift name of the input type, e.g. `ProvisionInput` (for messages and documentation).
    public let inputType: String
    /// Attempts of the whole run (the workflow's `retryPolicy`).
    public let retryPolicy: RetryPolicy
    /// Whether the kind has undo steps (a cancel then runs them before the run ends).
    public let hasCompensation: Bool
    /// Whether its runs wait for an operator's approval.
    public let approval: ApprovalRule
    /// Whether an approval from the database-direct CLI counts: its actor, `cli:USER@HOST`, is whatever the
    /// shell says (`$USER`, `KAJI_ACTOR_USER`), not an authenticated person. When false, only an
    /// authenticated principal approves runs of this kind (`token:NAME` through `kaji serve`, or
    /// `slack:TEAM/USER`); `KajiClient.decide` refuses a `cli:` approver with `permissionDenied`. A rejection
    /// from the CLI still counts (it stops work, it does not let any through).
    ///
    /// Default: false for a kind that waits for a distinct approver (`ApprovalRule.distinctApprover`: four
    /// eyes need two people the system knows), true otherwise. Change it with
    /// `allowingDatabaseDirectApproval(_:)`.
    public private(set) var databaseDirectApproval: Bool
    private let decodeInput: @Sendable (String) throws -> Void
    private let keyRule: @Sendable (String) throws -> String?

    /// The catalog entry of a workflow type: no instance (and so no service) is needed.
    public init<W: Workflow>(_ type: W.Type) {
        self.init(type, hasCompensation: false)
    }

    /// The catalog entry of a workflow type with undo steps.
    public init<W: CompensatingWorkflow>(_ type: W.Type) {
        self.init(type, hasCompensation: true)
    }

    private init<W: Workflow>(_ type: W.Type, hasCompensation: Bool) {
        kind = W.kind
        inputType = String(describing: W.Input.self)
        retryPolicy = W.retryPolicy
        approval = W.approval
        databaseDirectApproval = W.approval != .distinctApprover
        self.hasCompensation = hasCompensation
        decodeInput = { json in _ = try WorkflowKind.decode(W.Input.self, kind: W.kind, json: json) }
        keyRule = { json in W.concurrencyKey(for: try WorkflowKind.decode(W.Input.self, kind: W.kind, json: json)) }
    }

    /// This entry with `databaseDirectApproval` set: whether an approval from the database-direct CLI
    /// (`cli:USER@HOST`) counts for runs of this kind.
    public func allowingDatabaseDirectApproval(_ allowed: Bool) -> WorkflowKind {
        var entry = self
        entry.databaseDirectApproval = allowed
        return entry
    }

    /// Checks that `input` (JSON) decodes into the kind's input type. Throws `invalidInput` (field `input`)
    /// naming the input field that is wrong.
    public func validate(input: String) throws {
        try decodeInput(input)
    }

    /// The concurrency key the kind's rule gives runs with `input`, or nil when the kind has no rule.
    public func requiredConcurrencyKey(input: String) throws -> String? {
        try keyRule(input)
    }

    static func decode<T: Decodable>(_ type: T.Type, kind: String, json: String) throws -> T {
        do {
            return try KajiJSON.decode(type, from: json)
        } catch {
            throw KajiError(.invalidInput, "input for \(kind) is not valid: \(KajiJSON.describe(error))", field: "input")
        }
    }
}
