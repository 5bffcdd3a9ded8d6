import Foundation

/// An error that says whether trying again could help. Errors that do not conform are retryable.
public protocol RetryClassifying: Error {
    /// `false` stops retries at once: the step or run fails with this error.
    var isRetryable: Bool { get }
}

/// A workflow or step failure with a plain message. Mark it non-retryable when trying again cannot help
/// (bad input, a resource that must not exist).
public struct WorkflowError: RetryClassifying, CustomStringConvertible, Sendable {
    public let message: String
    public let isRetryable: Bool

    /// - Parameters:
    ///   - message: what failed, with which input, and what would be right.
    ///   - nonRetryable: `true` stops retries at once (default `false`).
    public init(_ message: String, nonRetryable: Bool = false) {
        self.message = message
        self.isRetryable = !nonRetryable
    }

    public var description: String { message }
}

/// Errors of the engine itself: a stable code that callers switch on, a message, and the offending field
/// in the caller's terms (an input field like `queue` or `concurrencyKey`, a manifest path like
/// `velero.schedule`; never a command-line flag), so that the CLI (exit codes, flag names) and an HTTP
/// server (statuses, `{"error": {"code", "message", "field"}}`) map them from one table.
///
/// When `field` is set, the message begins with the field's top-level name (`queue 'x y' is not valid: …`,
/// `payload field 'reason' is required …`): a caller that calls the field something else (the CLI's
/// `--queue`) replaces that first word (see `message(naming:)`).
public struct KajiError: RetryClassifying, CustomStringConvertible, Sendable, Equatable, Codable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A command-line or API argument is wrong (exit code 2).
        public static let invalidArgument = Code("invalid_argument")
        /// No workflow of that kind is registered.
        public static let unknownKind = Code("unknown_kind")
        /// The input JSON does not decode into the workflow's input type.
        public static let invalidInput = Code("invalid_input")
        /// No run with that id.
        public static let runNotFound = Code("run_not_found")
        /// The run is not in a state that allows the operation.
        public static let invalidState = Code("invalid_state")
        /// The database schema is older than this build.
        public static let schemaOutdated = Code("schema_outdated")
        /// A step name was used twice in one run.
        public static let duplicateStep = Code("duplicate_step")
        /// This worker no longer holds the run's lease; its write was refused.
        public static let leaseLost = Code("lease_lost")
        /// The database cannot be reached.
        public static let databaseUnavailable = Code("database_unavailable")
        /// A step failed after its last attempt.
        public static let stepFailed = Code("step_failed")
        /// A value read from the database is not one of its closed set (a run state, an audit event type, …)
        /// that this build knows: the row was written by a newer Kaji or by hand.
        public static let unknownStoredValue = Code("unknown_stored_value")
        /// No cluster of that name in the inventory.
        public static let clusterNotFound = Code("cluster_not_found")
        /// A cluster manifest is invalid, or cannot be applied to the cluster as the inventory has it.
        public static let manifestInvalid = Code("manifest_invalid")
    }

    public let code: Code
    public let message: String
    /// The offending field in the caller's terms (`queue`, `input`, `payload.reason`, `velero.schedule`),
    /// or nil when the error is not about one field (default nil).
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    /// The message with its leading field name replaced by `label` (e.g. `--queue`), when the error has a
    /// field and the message begins with that field's top-level name; else the message as it is.
    public func message(naming label: (String) -> String?) -> String {
        guard let field, let top = field.split(separator: ".").first.map(String.init), let replacement = label(top),
              message.hasPrefix(top + " ") else { return message }
        return replacement + message.dropFirst(top.count)
    }

    /// This error with `field` set (the message is kept).
    public func naming(field: String) -> KajiError { KajiError(code, message, field: field) }

    public var isRetryable: Bool {
        switch code {
        case .databaseUnavailable, .leaseLost: return true
        default: return false
        }
    }

    /// Whether this error comes from wrong usage (exit code 2) rather than a failure (exit code 1).
    public var isUsageError: Bool {
        [.invalidArgument, .unknownKind, .invalidInput].contains(code)
    }

    private enum CodingKeys: String, CodingKey { case code, message, field }

    /// `{"code": "invalid_argument", "message": "…", "field": "queue"}` (`field` left out when nil).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code.rawValue, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(field, forKey: .field)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(Code(try container.decode(String.self, forKey: .code)), try container.decode(String.self, forKey: .message),
                  field: try container.decodeIfPresent(String.self, forKey: .field))
    }

    public var description: String { message }
}

extension Error {
    /// Whether a retry policy may try again after this error.
    public var kajiIsRetryable: Bool {
        if let classified = self as? any RetryClassifying { return classified.isRetryable }
        if self is DecodingError || self is EncodingError { return false }
        return true
    }

    /// A one-line description suitable for the step history. Never includes payload values of `Secret`s.
    public var kajiDescription: String {
        if let e = self as? KajiError { return e.message }
        if let e = self as? WorkflowError { return e.message }
        if self is DecodingError { return KajiJSON.describe(self) }
        return String(describing: self)
    }
}
