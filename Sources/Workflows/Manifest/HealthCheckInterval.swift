import Foundation

/// `healthCheck.interval`: how often Kaji checks a cluster's API, a duration of hours, minutes, seconds and
/// milliseconds such as `30s`, `1m`, `1m30s` or `1500ms`, from 1 s to 1 h (default 30 s).
public enum HealthCheckInterval {
    /// 30 s.
    public static let defaultInterval: Duration = .seconds(30)
    /// The shortest interval a manifest may ask for.
    public static let minimum: Duration = .seconds(1)
    /// The longest.
    public static let maximum: Duration = .seconds(3600)

    /// The duration `text` means, or nil when it is not one (units `h`, `m`, `s`, `ms`, largest first, each
    /// once).
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        var lastOrder = -1
        let units: [(name: String, order: Int, milliseconds: Int64)] = [("ms", 3, 1), ("h", 0, 3_600_000), ("m", 1, 60_000), ("s", 2, 1000)]
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, digits.count <= 9, let number = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.name) }), unit.order > lastOrder else { return nil }
            rest = rest.dropFirst(unit.name.count)
            lastOrder = unit.order
            total += number * unit.milliseconds
        }
        return .milliseconds(total)
    }

    /// nil when `text` is a valid interval, else what is wrong (the caller names the field).
    public static func problem(_ text: String) -> String? {
        guard let interval = parse(text) else {
            return "must be a duration like 30s, 1m or 1m30s (units h, m, s, ms), got \"\(text.prefix(60))\""
        }
        guard interval >= minimum, interval <= maximum else {
            return "must be from 1s to 1h, got \(text)"
        }
        return nil
    }

    /// The interval `spec` asks for: its `healthCheck.interval`, or 30 s when absent (or, for a spec that was
    /// never validated, not a valid interval).
    public static func of(_ spec: ClusterSpec) -> Duration {
        guard let text = spec.healthCheck?.interval, problem(text) == nil, let interval = parse(text) else { return defaultInterval }
        return interval
    }
}
