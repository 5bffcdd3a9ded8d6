import Engine
import Foundation

/// Syntax checks for the Velero settings of a manifest: the backup schedule and the TTL.
public enum VeleroSyntax {
    /// Checks `velero.schedule`: five cron fields (`minute hour day-of-month month day-of-week`), read by
    /// the engine's `CronExpression`, the grammar its scheduler runs (no seconds field, no macros). Returns
    /// nil when it is valid, else what is wrong (without the path: the caller names it).
    public static func scheduleProblem(_ expression: String) -> String? {
        do {
            _ = try CronExpression(expression, allowing: [])
            return nil
        } catch {
            return error.kajiDescription
        }
    }

    /// Checks a Velero TTL, a Go duration of hours, minutes and seconds such as `720h` or `72h30m`. Returns
    /// nil when it is valid and longer than zero.
    public static func ttlProblem(_ text: String) -> String? {
        let wrong = "must be a duration of hours, minutes and seconds like 720h or 72h30m, got \"\(text.prefix(60))\""
        var rest = Substring(text)
        var total = 0
        var lastUnit = -1
        let units: [Character: (order: Int, seconds: Int)] = ["h": (0, 3600), "m": (1, 60), "s": (2, 1)]
        guard !rest.isEmpty else { return wrong }
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isNumber)
            guard !digits.isEmpty, let number = Int(digits) else { return wrong }
            rest = rest.dropFirst(digits.count)
            guard let unitChar = rest.first, let unit = units[unitChar], unit.order > lastUnit else { return wrong }
            rest = rest.dropFirst()
            lastUnit = unit.order
            total += number * unit.seconds
        }
        return total > 0 ? nil : "must be longer than 0 (e.g. 720h), got \"\(text.prefix(60))\""
    }
}
