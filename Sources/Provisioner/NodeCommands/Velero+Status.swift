import Foundation

/// What Velero reports about one backup or restore: `status` of `velero backup|restore get NAME -o json`.
public struct VeleroStatus: Sendable, Equatable, Codable {
    /// The phase (`New` when Velero has not set one yet).
    public var phase: BackupPhase
    /// `status.errors` (default 0).
    public var errors: Int
    /// `status.warnings` (default 0).
    public var warnings: Int
    /// `status.failureReason`, set when the phase is `Failed`.
    public var failureReason: String?
    /// `status.validationErrors`, set when the phase is `FailedValidation`.
    public var validationErrors: [String]
    /// `status.progress.totalItems`, when Velero counted them.
    public var totalItems: Int?
    /// `status.progress.itemsBackedUp` (a backup) or `itemsRestored` (a restore).
    public var itemsDone: Int?
    /// `metadata.labels` (e.g. the run that created the object).
    public var labels: [String: String]

    public init(
        phase: BackupPhase, errors: Int = 0, warnings: Int = 0, failureReason: String? = nil,
        validationErrors: [String] = [], totalItems: Int? = nil, itemsDone: Int? = nil, labels: [String: String] = [:]
    ) {
        self.labels = labels
        self.phase = phase
        self.errors = errors
        self.warnings = warnings
        self.failureReason = failureReason
        self.validationErrors = validationErrors
        self.totalItems = totalItems
        self.itemsDone = itemsDone
    }
}

/// What `velero backup|restore describe NAME --details` lists under `Errors:` and `Warnings:`.
public struct VeleroProblems: Sendable, Equatable, Codable {
    public var errors: [String]
    public var warnings: [String]

    public init(errors: [String] = [], warnings: [String] = []) {
        self.errors = errors
        self.warnings = warnings
    }
}

/// Why a Velero status could not be read.
public struct VeleroParseError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension Velero {
    /// The kind of Velero object a command is about.
    public enum Resource: String, Sendable {
        case backup, restore
    }

    /// `velero backup|restore get NAME -o json`: the object with its full status.
    public static func getCommand(_ resource: Resource, name: String) -> String {
        ShellQuote.join(["velero", resource.rawValue, "get", name, "-o", "json"])
    }

    /// `velero backup|restore describe NAME --details`: errors and warnings in words.
    public static func describeCommand(_ resource: Resource, name: String) -> String {
        ShellQuote.join(["velero", resource.rawValue, "describe", name, "--details"])
    }

    /// `velero backup create NAME [--storage-location L] [--ttl T] [--include-namespaces a,b] [--labels k=v,…] [--wait]`.
    public static func backupCreateCommand(
        name: String, storageLocation: String?, ttl: String?, includeNamespaces: [String] = [], labels: [String: String] = [:],
        wait: Bool = true
    ) -> String {
        var words = ["velero", "backup", "create", name]
        if !labels.isEmpty { words += ["--labels", labelList(labels)] }
        if let storageLocation, !storageLocation.isEmpty { words += ["--storage-location", storageLocation] }
        if let ttl, !ttl.isEmpty { words += ["--ttl", ttl] }
        if !includeNamespaces.isEmpty { words += ["--include-namespaces", includeNamespaces.joined(separator: ",")] }
        if wait { words.append("--wait") }
        return ShellQuote.join(words)
    }

    /// `velero restore create NAME --from-backup BACKUP [--labels k=v,…] [--wait]`: a named restore, so that
    /// a resumed run can find the one it started.
    public static func restoreCreateCommand(name: String, fromBackup backup: String, labels: [String: String] = [:], wait: Bool = true) -> String {
        var words = ["velero", "restore", "create", name, "--from-backup", backup]
        if !labels.isEmpty { words += ["--labels", labelList(labels)] }
        if wait { words.append("--wait") }
        return ShellQuote.join(words)
    }

    /// `k1=v1,k2=v2`, sorted by key.
    static func labelList(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Whether a failed `get`/`describe` said the object does not exist (`… "NAME" not found`).
    public static func isNotFound(_ stderr: String) -> Bool {
        stderr.contains("not found") || stderr.contains("NotFound")
    }

    /// Reads `velero backup|restore get NAME -o json` (one object, or a list holding it).
    public static func parseStatus(json text: String) throws -> VeleroStatus {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw VeleroParseError(description: "the output of `velero … get -o json` is not a JSON object: \(text.prefix(200))")
        }
        var item = object
        if let items = object["items"] as? [[String: Any]] {
            guard items.count == 1, let only = items.first else {
                throw VeleroParseError(description: "`velero … get -o json` listed \(items.count) objects where one was expected")
            }
            item = only
        }
        let status = item["status"] as? [String: Any] ?? [:]
        let metadata = item["metadata"] as? [String: Any] ?? [:]
        let progress = status["progress"] as? [String: Any] ?? [:]
        func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
        return VeleroStatus(
            phase: BackupPhase(rawValue: status["phase"] as? String ?? ""),
            errors: int(status["errors"]) ?? 0,
            warnings: int(status["warnings"]) ?? 0,
            failureReason: (status["failureReason"] as? String).flatMap { $0.isEmpty ? nil : $0 },
            validationErrors: status["validationErrors"] as? [String] ?? [],
            totalItems: int(progress["totalItems"]),
            itemsDone: int(progress["itemsBackedUp"]) ?? int(progress["itemsRestored"]),
            labels: metadata["labels"] as? [String: String] ?? [:])
    }

    /// Reads the `Errors:` and `Warnings:` sections of `velero … describe --details`. A section is either a
    /// count on its own line (`Errors:  2`, no messages) or indented lines such as `  Velero:  <none>`,
    /// `  Namespaces:` and `    app:  error backing up …`; `<none>` entries and bare headings are skipped,
    /// each message is given as `SOURCE: text`.
    public static func parseProblems(_ text: String) -> VeleroProblems {
        var problems = VeleroProblems()
        var section: WritableKeyPath<VeleroProblems, [String]>?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let indented = line.first == " " || line.first == "\t"
            if !indented {
                section = nil
                if trimmed == "Errors:" { section = \.errors }
                if trimmed == "Warnings:" { section = \.warnings }
                continue
            }
            guard let section, !trimmed.isEmpty else { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                problems[keyPath: section].append(trimmed)
                continue
            }
            let source = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            let message = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if message.isEmpty || message == "<none>" { continue }
            problems[keyPath: section].append("\(source): \(message)")
        }
        return problems
    }
}
