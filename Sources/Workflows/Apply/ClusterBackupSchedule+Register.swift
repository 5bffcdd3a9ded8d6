import Engine
import Foundation

extension ClusterBackupSchedule {
    /// What `register` did.
    public enum Registration: String, Codable, Sendable {
        /// There was no schedule of that name; it was added.
        case created
        /// A schedule of that name differed (cron, zone, kind, input or key); it was replaced.
        case replaced
        /// The schedule was there as the manifest asks.
        case unchanged
    }

    /// JSON text with sorted keys and no spaces (PostgreSQL's jsonb prints its own way).
    private static func canonical(_ json: String) -> String? {
        (try? KajiJSON.decode(JSONValue.self, from: json)).flatMap { try? KajiJSON.string($0) }
    }

    /// The engine's schedule request for this backup.
    public func request(actor: String) -> ScheduleRequest {
        ScheduleRequest(name: name, cron: cron, timezone: timezone, kind: kind, input: input, concurrencyKey: concurrencyKey, actor: actor)
    }

    /// Makes the engine's schedule `backup:NAME` match the manifest: adds it, replaces one that differs, or
    /// leaves it. Safe to call on every apply. The schedule is checked as any schedule request is (the
    /// client's catalog must know `cluster.backup`); its runs get that kind's retry policy.
    @discardableResult
    public func register(with client: KajiClient, actor: String) async throws -> Registration {
        let wanted = request(actor: actor)
        func matches(_ existing: Schedule) -> Bool {
            existing.cron == wanted.cron && existing.timezone == wanted.timezone && existing.kind == wanted.kind
                && existing.concurrencyKey == wanted.concurrencyKey
                && Self.canonical(existing.input) == Self.canonical(wanted.input)
        }
        var outcome = Registration.created
        if let existing = try await client.schedule(name: name) {
            if matches(existing) { return .unchanged }
            try await client.removeSchedule(name: name, actor: actor)
            outcome = .replaced
        }
        do {
            _ = try await client.addSchedule(wanted)
            return outcome
        } catch let error as KajiError where error.code == .invalidState {
            // Another apply added it in between: fine if it is the same.
            if let existing = try await client.schedule(name: name), matches(existing) { return .unchanged }
            throw error
        } catch let error as KajiError where error.field != nil {
            // In the manifest's terms: the schedule comes from `velero`.
            throw KajiError(error.code, "velero.schedule: \(error.message)", field: "velero.schedule")
        }
    }
}
