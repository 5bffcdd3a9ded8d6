import Foundation

/// A reference to a secret value stored encrypted in the database. It holds only the secret's id, never
/// its value, so it can go anywhere a value goes (step results, errors, logs, audit details): it encodes as
/// `{"$secret": "<uuid>"}` and prints as `secret:<uuid>`. The value comes back only through
/// `WorkflowContext.reveal`, `StepContext.reveal` or `kaji secret reveal`, each audited.
public struct Secret: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret's id (the `secrets` row).
    public let id: UUID

    public init(id: UUID) {
        self.id = id
    }

    /// Parses `secret:<uuid>`, a bare `<uuid>`, or the JSON form `{"$secret": "<uuid>"}`.
    public init(reference text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var candidate = trimmed
        if trimmed.hasPrefix("{"), let decoded = try? JSONDecoder().decode(Secret.self, from: Data(trimmed.utf8)) {
            self = decoded
            return
        }
        if candidate.lowercased().hasPrefix("secret:") { candidate = String(candidate.dropFirst("secret:".count)) }
        guard let id = UUID(uuidString: candidate) else {
            // The text is not repeated: it may be a value pasted by mistake.
            throw KajiError(.invalidArgument, "the secret reference is not valid (\(trimmed.count) characters): use secret:<uuid>, <uuid> or {\"$secret\": \"<uuid>\"}")
        }
        self.id = id
    }

    /// `secret:<uuid>`.
    public var reference: String { "secret:\(id.uuidString.lowercased())" }
    public var description: String { reference }
    public var debugDescription: String { "Secret(\(reference))" }
    public var customMirror: Mirror { Mirror(self, children: ["reference": reference]) }

    private enum CodingKeys: String, CodingKey {
        case ref = "$secret"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(UUID.self, forKey: .ref)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .ref)
    }
}
