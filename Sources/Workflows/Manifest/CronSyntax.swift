import Foundation

/// Syntax checks for the Velero settings: 5-field cron schedules and Go-style durations.
public enum CronSyntax {
    private static let fields: [(name: String, range: ClosedRange<Int>, names: [String])] = [
        ("minute", 0...59, []),
        ("hour", 0...23, []),
        ("day-of-month", 1...31, []),
        ("month", 1...12, ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]),
        ("day-of-week", 0...7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
    ]

    /// Checks a 5-field cron expression (`minute hour day-of-month month day-of-week`; each field `*`, `N`,
    /// `A-B`, a `,` list of those, each optionally `/STEP`; months and weekdays may be names like `jan`,
    /// `mon`). Returns nil when it is valid, else what is wrong.
    public static func problem(in expression: String) -> String? {
        let parts = expression.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 5 else {
            return "must be 5 cron fields (minute hour day-of-month month day-of-week) like \"0 3 * * *\", got \(parts.count) field\(parts.count == 1 ? "" : "s")"
        }
        for (part, field) in zip(parts, fields) {
            for item in part.split(separator: ",", omittingEmptySubsequences: false) {
                if let problem = check(String(item), field: field) {
                    return "the \(field.name) field \"\(part)\" \(problem)"
                }
            }
        }
        return nil
    }

    private static func check(_ item: String, field: (name: String, range: ClosedRange<Int>, names: [String])) -> String? {
        let rangeText = "\(field.range.lowerBound)-\(field.range.upperBound)"
        let stepSplit = item.split(separator: "/", omittingEmptySubsequences: false)
        guard stepSplit.count <= 2 else { return "has more than one '/'" }
        if stepSplit.count == 2 {
            guard let step = Int(stepSplit[1]), step >= 1, step <= field.range.upperBound else {
                return "has a step that is not a number from 1 to \(field.range.upperBound)"
            }
        }
        let base = String(stepSplit[0])
        if base == "*" { return nil }
        func value(_ text: Substring) -> Int? {
            if let index = field.names.firstIndex(of: text.lowercased()) {
                return field.name == "month" ? index + 1 : index
            }
            guard text.allSatisfy(\.isNumber) else { return nil }
            return Int(text)
        }
        let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count) else { return "is not a number, range (A-B), list (A,B) or step (*/N)" }
        var values: [Int] = []
        for bound in bounds {
            guard let v = value(bound) else { return "is not a number, range (A-B), list (A,B) or step (*/N)" }
            guard field.range.contains(v) else { return "is out of range \(rangeText)" }
            values.append(v)
        }
        if values.count == 2, values[0] > values[1] { return "has a range that runs backwards (\(base))" }
        return nil
    }

    /// Checks a Velero TTL, a Go duration of hours, minutes and seconds such as `720h` or `72h30m`. Returns
    /// nil when it is valid and longer than zero.
    public static func durationProblem(_ text: String) -> String? {
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
