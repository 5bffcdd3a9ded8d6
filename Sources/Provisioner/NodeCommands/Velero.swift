/// Command lines for Velero, and readers of its output. `velero backup create --wait` exits 0 even when the
/// backup fails: read the phase from its last line or with ``phaseCommand(backup:)``.
public enum Velero {
    /// `velero backup create NAME [--include-namespaces a,b] --wait`.
    public static func backupCreateCommand(name: String, includeNamespaces: [String] = [], wait: Bool = true) -> String {
        var words = ["velero", "backup", "create", name]
        if !includeNamespaces.isEmpty { words += ["--include-namespaces", includeNamespaces.joined(separator: ",")] }
        if wait { words.append("--wait") }
        return ShellQuote.join(words)
    }

    /// `kubectl -n velero get backup NAME -o jsonpath='{.status.phase}'`.
    public static func phaseCommand(backup name: String) -> String {
        ShellQuote.join(["kubectl", "-n", "velero", "get", "backup", name, "-o", "jsonpath={.status.phase}"])
    }

    /// `velero restore create --from-backup NAME --wait`.
    public static func restoreCreateCommand(fromBackup name: String, wait: Bool = true) -> String {
        var words = ["velero", "restore", "create", "--from-backup", name]
        if wait { words.append("--wait") }
        return ShellQuote.join(words)
    }

    /// The phase in `Backup completed with status: PHASE.` (or `Restore completed …`); nil when absent
    /// (e.g. the watch broke).
    public static func parseCompletion(_ output: String) -> BackupPhase? {
        for line in output.split(whereSeparator: \.isNewline).reversed() {
            guard let range = line.range(of: "completed with status: ") else { continue }
            let rest = line[range.upperBound...]
            let phase = rest.prefix { $0 != "." && $0 != " " }
            return BackupPhase(rawValue: String(phase))
        }
        return nil
    }
}

/// A Velero backup or restore phase.
public enum BackupPhase: Sendable, Equatable, Codable, CustomStringConvertible {
    case new, queued, readyToStart, failedValidation, inProgress, waitingForPluginOperations
    case waitingForPluginOperationsPartiallyFailed, finalizing, finalizingPartiallyFailed
    case completed, partiallyFailed, failed, deleting
    case other(String)

    static let names: [(String, BackupPhase)] = [
        ("New", .new), ("Queued", .queued), ("ReadyToStart", .readyToStart), ("FailedValidation", .failedValidation),
        ("InProgress", .inProgress), ("WaitingForPluginOperations", .waitingForPluginOperations),
        ("WaitingForPluginOperationsPartiallyFailed", .waitingForPluginOperationsPartiallyFailed),
        ("Finalizing", .finalizing), ("FinalizingPartiallyFailed", .finalizingPartiallyFailed),
        ("Completed", .completed), ("PartiallyFailed", .partiallyFailed), ("Failed", .failed), ("Deleting", .deleting),
    ]

    /// An empty phase reads as `New`, as `velero backup get` prints it.
    public init(rawValue: String) {
        let trimmed = rawValue.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            self = .new
        } else {
            self = Self.names.first { $0.0 == trimmed }?.1 ?? .other(trimmed)
        }
    }

    public var description: String {
        if case .other(let value) = self { return value }
        return Self.names.first { $0.1 == self }?.0 ?? "?"
    }

    /// Where `--wait` stops: FailedValidation, Completed, PartiallyFailed, Failed.
    public var isFinal: Bool {
        [.failedValidation, .completed, .partiallyFailed, .failed].contains(self)
    }

    /// Only `Completed` is a success.
    public var isSuccess: Bool { self == .completed }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
