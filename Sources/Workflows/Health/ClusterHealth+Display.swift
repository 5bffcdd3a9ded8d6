import Engine
import Foundation

/// A cluster's inventory record with its latest API health, as `kaji cluster show --json` prints it: the
/// record's fields, plus `health` (a `ClusterHealth`, or null when it was never checked).
public struct ClusterRecordWithHealth: Encodable, Sendable {
    public var record: ClusterRecord
    public var health: ClusterHealth?

    public init(record: ClusterRecord, health: ClusterHealth?) {
        self.record = record
        self.health = health
    }

    private enum Keys: String, CodingKey { case health }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(health, forKey: .health)
    }
}

extension ClusterService {
    /// The latest API health result of cluster `name`, or nil when it was never checked.
    public func health(of name: String) async throws -> ClusterHealth? {
        try await client.clusterHealth(cluster: name)
    }
}

/// The lines `kaji cluster show` prints about a cluster's API health.
public enum ClusterHealthDisplay {
    /// `(label, value)` rows: the latest result and the last change. `time` formats a date.
    public static func rows(_ health: ClusterHealth?, time: (Date) -> String) -> [(String, String)] {
        guard let health else { return [("api health", "not checked yet (ready clusters are checked by the workers of their zone)")] }
        let latest = health.latest
        var facts: [String] = []
        if let status = latest.httpStatus { facts.append("HTTP \(status)") }
        if !latest.checks.isEmpty {
            facts.append("\(latest.checks.filter(\.ok).count)/\(latest.checks.count) readyz checks ok")
        }
        facts.append(String(format: "%.0f ms", latest.durationSeconds * 1000))
        facts.append("checked \(time(latest.checkedAt)) by \(latest.checkedBy)")
        var rows: [(String, String)] = [("api health", "\(latest.up ? "up" : "DOWN"), \(health.status) (\(facts.joined(separator: ", ")))")]
        if let reason = latest.reason { rows.append(("api reason", reason)) }
        for check in latest.checks where !check.ok { rows.append(("  [-]", "\(check.name) \(check.detail)")) }
        let change = health.previousStatus.map { "\($0) → \(health.status)" } ?? "\(health.status) since the first check"
        rows.append(("api changed", "\(time(health.statusSince)): \(change)"))
        return rows
    }
}
