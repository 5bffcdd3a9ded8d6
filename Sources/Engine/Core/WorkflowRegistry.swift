import Foundation

/// The workflows a process knows, by kind. Enqueueing checks the kind and decodes the input here first,
/// so that bad input is refused before anything is stored.
public struct WorkflowRegistry: Sendable {
    struct Entry: Sendable {
        let kind: String
        let retryPolicy: RetryPolicy
        let validate: @Sendable (String) throws -> Void
        let execute: @Sendable (String, WorkflowContext) async throws -> String
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// Registers a workflow instance under its `kind`. Registering a kind twice replaces the first.
    public mutating func register<W: Workflow>(_ workflow: W) {
        entries[W.kind] = Entry(
            kind: W.kind,
            retryPolicy: W.retryPolicy,
            validate: { json in _ = try Self.decodeInput(W.Input.self, kind: W.kind, json: json) },
            execute: { json, context in
                let input = try Self.decodeInput(W.Input.self, kind: W.kind, json: json)
                let output = try await workflow.run(input, context: context)
                return try KajiJSON.string(output)
            }
        )
    }

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
