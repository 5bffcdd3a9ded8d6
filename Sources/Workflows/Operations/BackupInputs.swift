import Foundation

/// The input of `cluster.backup`: a Velero backup of a cluster in the inventory.
public struct BackupInput: Codable, Sendable, Equatable {
    /// `cluster:NAME`: enqueue with it so that no two operations on one cluster overlap.
    public var concurrencyKey: String { "cluster:\(cluster)" }

    /// The cluster's name in the inventory.
    public var cluster: String
    /// The backup's name (a DNS label: lowercase letters, digits, `-` and `.`, at most 63 characters).
    /// Default: `CLUSTER-YYYYMMDD-HHMMSS` (UTC), chosen once when the run starts.
    public var name: String?

    public init(cluster: String, name: String? = nil) {
        self.cluster = cluster
        self.name = name
    }

    enum CodingKeys: String, CodingKey { case cluster, name }

    /// Refuses a bad cluster or backup name before anything is enqueued; the error names the field.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cluster = try container.decode(String.self, forKey: .cluster)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        try BackupNames.check(cluster, field: .cluster, in: container)
        if let name { try BackupNames.check(name, field: .name, in: container) }
    }
}

/// The input of `cluster.restore`: a Velero restore of a cluster from one of its backups.
public struct RestoreInput: Codable, Sendable, Equatable {
    /// `cluster:NAME`: enqueue with it so that no two operations on one cluster overlap.
    public var concurrencyKey: String { "cluster:\(cluster)" }

    /// The cluster's name in the inventory.
    public var cluster: String
    /// The name of the backup to restore from (as `velero backup get` lists it).
    public var backup: String

    public init(cluster: String, backup: String) {
        self.cluster = cluster
        self.backup = backup
    }

    enum CodingKeys: String, CodingKey { case cluster, backup }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cluster = try container.decode(String.self, forKey: .cluster)
        backup = try container.decode(String.self, forKey: .backup)
        try BackupNames.check(cluster, field: .cluster, in: container)
        try BackupNames.check(backup, field: .backup, in: container)
    }
}

/// The input of `cluster.rotate-password`: a new Argo CD admin password for a cluster in the inventory.
public struct RotatePasswordInput: Codable, Sendable, Equatable {
    /// `cluster:NAME`: enqueue with it so that no two operations on one cluster overlap.
    public var concurrencyKey: String { "cluster:\(cluster)" }

    /// The cluster's name in the inventory.
    public var cluster: String

    public init(cluster: String) {
        self.cluster = cluster
    }

    enum CodingKeys: String, CodingKey { case cluster }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cluster = try container.decode(String.self, forKey: .cluster)
        try BackupNames.check(cluster, field: .cluster, in: container)
    }
}

/// Names that end up in Velero object names and node command lines.
enum BackupNames {
    /// At most 63 characters: Velero puts backup and restore names into label values.
    static let maxLength = 63

    /// Whether `text` is a DNS label as Kubernetes accepts it for these names: 1-63 of `a-z`, `0-9`, `-`,
    /// `.`, starting and ending with a letter or digit.
    static func isValid(_ text: String) -> Bool {
        guard (1...maxLength).contains(text.count), text.allSatisfy(\.isASCII) else { return false }
        let allowed = text.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "." }
        let edges = [text.first, text.last].allSatisfy { c in c.map { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") } ?? false }
        return allowed && edges
    }

    static func check<Key: CodingKey>(_ text: String, field: Key, in container: KeyedDecodingContainer<Key>) throws {
        guard isValid(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: field, in: container,
                debugDescription: "'\(text.prefix(80))' is not a valid name: use 1-\(maxLength) lowercase letters, digits, '-' or '.', starting and ending with a letter or digit")
        }
    }

    /// `PREFIX-YYYYMMDD-HHMMSS` in UTC (`PREFIX-YYYYMMDDHHMMSS` when `dashInStamp` is false); the prefix is
    /// shortened when the whole would pass 63 characters.
    static func timestamped(_ cluster: String, at date: Date, dashInStamp: Bool = true) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        let stamp = String(format: "%04d", c.year ?? 0) + two(c.month) + two(c.day) + (dashInStamp ? "-" : "") + two(c.hour) + two(c.minute) + two(c.second)
        var prefix = String(cluster.prefix(maxLength - stamp.count - 1))
        while let last = prefix.last, last == "-" || last == "." { prefix.removeLast() }
        return prefix.isEmpty ? stamp : "\(prefix)-\(stamp)"
    }
}
