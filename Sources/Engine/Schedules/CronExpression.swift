import Foundation

/// A cron expression: `MIN HOUR DOM MONTH DOW` (five fields), or six fields with a leading seconds field
/// (`SEC MIN HOUR DOM MONTH DOW`), or a macro (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
/// `@midnight`, `@hourly`).
///
/// Each field takes `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n` (and `a/n`, meaning `a-max/n`), and
/// comma lists of those. Months take `JAN`-`DEC`, weekdays `SUN`-`SAT`; weekday 7 is Sunday like 0. As in
/// cron, when both day-of-month and day-of-week are restricted (neither is `*`), a day matches if either
/// matches; otherwise both must.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text it was parsed from.
    public let text: String
    let seconds: Set<Int>
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool
    /// Whether the expression has a seconds field (else it fires at second 0).
    public let hasSeconds: Bool

    public var description: String { text }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// The forms an expression may take beyond five plain fields.
    public struct Forms: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Six fields, the first one seconds.
        public static let seconds = Forms(rawValue: 1)
        /// `@daily` and the other macros.
        public static let macros = Forms(rawValue: 2)
        /// Every form (the default).
        public static let all: Forms = [.seconds, .macros]
    }

    /// Parses an expression. Errors (`invalidArgument`) name the cron field that is wrong and what is
    /// allowed, never the caller's option or path: callers prefix their own (`--cron '…': `,
    /// `velero.schedule: `).
    /// - Parameters:
    ///   - text: the expression.
    ///   - forms: what is accepted beyond five plain fields (default `.all`: six fields with seconds and macros).
    public init(_ text: String, allowing forms: Forms = .all) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        self.text = trimmed
        let expanded = forms.contains(.macros) ? Self.macros[trimmed.lowercased()] ?? trimmed : trimmed
        if expanded.hasPrefix("@"), forms.contains(.macros) {
            throw KajiError(.invalidArgument, "unknown macro '\(trimmed)' (known: \(Self.macros.keys.sorted().joined(separator: ", ")))")
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || (fields.count == 6 && forms.contains(.seconds)) else {
            var other: [String] = []
            if forms.contains(.seconds) { other.append("6 with a leading seconds field") }
            if forms.contains(.macros) { other.append("a macro such as @daily") }
            let alternatives = other.isEmpty ? "" : " (or \(other.joined(separator: " or ")))"
            throw KajiError(.invalidArgument, "must be 5 cron fields (minute hour day-of-month month day-of-week) like \"0 3 * * *\"\(alternatives), got \(fields.count) field\(fields.count == 1 ? "" : "s")")
        }
        hasSeconds = fields.count == 6
        if !hasSeconds { fields.insert("0", at: 0) }
        func parse(_ index: Int, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], nameBase: Int = 0) throws -> Set<Int> {
            try Self.parseField(fields[index], name: name, range: range, names: names, nameBase: nameBase)
        }
        seconds = try parse(0, "second", 0...59)
        minutes = try parse(1, "minute", 0...59)
        hours = try parse(2, "hour", 0...23)
        daysOfMonth = try parse(3, "day of month", 1...31)
        months = try parse(4, "month", 1...12, names: Self.monthNames, nameBase: 1)
        let dow = try parse(5, "day of week", 0...7, names: Self.dayNames, nameBase: 0)
        daysOfWeek = Set(dow.map { $0 == 7 ? 0 : $0 })
        domRestricted = !(fields[3] == "*" || fields[3] == "?")
        dowRestricted = !(fields[5] == "*" || fields[5] == "?")
        // A day-of-month that no chosen month has (e.g. 31 in February only) never fires.
        if !dowRestricted {
            let longest = months.map { [1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31][$0] ?? 31 }.max() ?? 31
            if (daysOfMonth.min() ?? 1) > longest {
                throw KajiError(.invalidArgument, "never fires: no chosen month has day \(daysOfMonth.min() ?? 0)")
            }
        }
    }

    /// Parses an expression given as `field` (an option such as `--cron` or a field such as `cron`): errors
    /// start with `field 'TEXT': `.
    public static func parse(_ text: String, as field: String, allowing forms: Forms = .all) throws -> CronExpression {
        do {
            return try CronExpression(text, allowing: forms)
        } catch let error as KajiError {
            throw KajiError(error.code, "\(field) '\(text)': \(error.message)")
        }
    }

    private static func parseField(_ field: String, name: String, range: ClosedRange<Int>, names: [String], nameBase: Int) throws -> Set<Int> {
        func bad(_ why: String) -> KajiError {
            KajiError(.invalidArgument, "\(name) field '\(field)' \(why) (allowed: \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or \(names.first ?? "")-\(names.last ?? "")"), *, a-b, */n, lists a,b)")
        }
        func value(_ token: String) throws -> Int {
            if let n = Int(token) {
                guard range.contains(n) else { throw bad("has \(n) out of range") }
                return n
            }
            if let i = names.firstIndex(of: token.uppercased()) { return i + nameBase }
            throw bad("has '\(token)', not a number")
        }
        var result = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw bad("has an empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw bad("has more than one '/'") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s >= 1, s <= range.upperBound + 1 else { throw bad("has step '\(pieces[1])'; a step is a number from 1") }
                step = s
            }
            let base = pieces[0]
            let low: Int, high: Int
            if base == "*" || base == "?" {
                low = range.lowerBound; high = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]))
                high = try value(String(base[base.index(after: dash)...]))
                guard low <= high else { throw bad("has the range \(low)-\(high), which runs backwards") }
            } else {
                low = try value(base)
                high = pieces.count == 2 ? range.upperBound : low
            }
            result.formUnion(stride(from: low, through: high, by: step))
        }
        return result
    }

    /// Whether a calendar day (in the schedule's zone) matches the day-of-month / day-of-week rule.
    func matchesDay(day: Int, weekday: Int) -> Bool {
        let domOK = daysOfMonth.contains(day)
        let dowOK = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    /// The first tick strictly after `date`, in `timeZone` (default UTC), or nil if there is none within
    /// 30 years.
    ///
    /// Wall-clock times are matched in the zone, and DST changes are handled as cron does. When the hour
    /// field is restricted (`30 2 * * *`), a time skipped by the spring-forward change fires at the same
    /// distance after it (03:30), and a time that occurs twice (fall-back) fires once, at its first
    /// occurrence. When the hour field is `*` (`*/15 * * * *`), the expression fires at every instant whose
    /// wall-clock time matches: the repeated hour fires in both passes and the skipped hour not at all, so
    /// the interval stays regular. Non-matching months, days, hours and minutes are skipped whole.
    public func next(after date: Date, in timeZone: TimeZone = .gmt) -> Date? {
        if hours.count == 24 { return nextInstant(after: date, in: timeZone) }
        // Search in "naive" wall-clock time: the zone's local time, represented as if it were UTC.
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = .gmt
        let start = date.timeIntervalSince1970.rounded(.down) + 1
        // In the repeated hour of a fall-back day the wall clock is read as it shows then; its ticks map to
        // their first occurrence, which is past, so the hour fires once.
        var wall = Date(timeIntervalSince1970: start + Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: start))))
        let limit = wall.addingTimeInterval(30 * 366 * 86400)
        while wall < limit {
            let c = utc.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: wall)
            guard let year = c.year, let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute,
                  let second = c.second, let weekday = c.weekday else { return nil }
            if !months.contains(month) {
                guard let next = utc.date(from: DateComponents(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1)) else { return nil }
                wall = next
                continue
            }
            if !matchesDay(day: day, weekday: weekday - 1) {
                guard let today = utc.date(from: DateComponents(year: year, month: month, day: day)) else { return nil }
                wall = today.addingTimeInterval(86400)
                continue
            }
            if !hours.contains(hour) {
                wall = wall.addingTimeInterval(Double(3600 - minute * 60 - second))
                continue
            }
            if !minutes.contains(minute) {
                wall = wall.addingTimeInterval(Double(60 - second))
                continue
            }
            if !seconds.contains(second) {
                wall = wall.addingTimeInterval(1)
                continue
            }
            let absolute = Self.absolute(wall: wall, in: timeZone)
            if absolute > date { return absolute }
            wall = wall.addingTimeInterval(1)
        }
        return nil
    }

    /// `next(after:in:)` for an unrestricted hour field: walks absolute time, reading each instant's wall clock.
    private func nextInstant(after date: Date, in timeZone: TimeZone) -> Date? {
        var zoned = Calendar(identifier: .gregorian)
        zoned.timeZone = timeZone
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = .gmt
        var t = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down) + 1)
        let limit = t.addingTimeInterval(30 * 366 * 86400)
        while t < limit {
            let c = zoned.dateComponents([.year, .month, .day, .minute, .second, .weekday], from: t)
            guard let year = c.year, let month = c.month, let day = c.day, let minute = c.minute, let second = c.second,
                  let weekday = c.weekday else { return nil }
            var wallJump: DateComponents?
            if !months.contains(month) {
                wallJump = DateComponents(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1)
            } else if !matchesDay(day: day, weekday: weekday - 1) {
                wallJump = DateComponents(year: year, month: month, day: day + 1)
            }
            if let wallJump {
                guard let wall = utc.date(from: wallJump) else { return nil }
                let next = Self.absolute(wall: wall, in: timeZone)
                t = next > t ? next : t.addingTimeInterval(3600)
                continue
            }
            if !minutes.contains(minute) {
                t = t.addingTimeInterval(Double(60 - second))
                continue
            }
            if !seconds.contains(second) {
                t = t.addingTimeInterval(1)
                continue
            }
            return t
        }
        return nil
    }

    /// The latest tick in `first...now`, where `first` is a due schedule's next tick: the one tick that
    /// stands for all the ticks missed while nothing ran (`first` itself when no later tick is due). Looks
    /// in growing windows before `now`, so it walks few ticks however long the downtime was.
    public func latestTick(from first: Date, notAfter now: Date, in timeZone: TimeZone = .gmt) -> Date {
        guard first < now else { return first }
        for window: Double in [60, 3_600, 86_400, 32 * 86_400, 400 * 86_400] {
            let from = max(first, now.addingTimeInterval(-window))
            guard var tick = next(after: from, in: timeZone), tick <= now else { continue }
            var steps = 0
            while let following = next(after: tick, in: timeZone), following <= now, steps < 100_000 {
                tick = following
                steps += 1
            }
            return tick
        }
        var tick = first
        while let following = next(after: tick, in: timeZone), following <= now { tick = following }
        return tick
    }

    /// The absolute time of a wall-clock time in `timeZone`: the first occurrence when it occurs twice,
    /// shifted forward by the gap when it does not occur.
    static func absolute(wall: Date, in timeZone: TimeZone) -> Date {
        let before = timeZone.secondsFromGMT(for: wall.addingTimeInterval(-43200))
        let after = timeZone.secondsFromGMT(for: wall.addingTimeInterval(43200))
        var valid: [Date] = []
        for offset in Set([before, after, timeZone.secondsFromGMT(for: wall)]) {
            let candidate = wall.addingTimeInterval(-Double(offset))
            if timeZone.secondsFromGMT(for: candidate) == offset { valid.append(candidate) }
        }
        if let first = valid.min() { return first }
        return wall.addingTimeInterval(-Double(before))
    }
}

extension CronExpression {
    /// Parses an IANA time zone name (e.g. `Asia/Tokyo`; default `UTC`) given as `field` (an option such
    /// as `--timezone` or a field such as `timezone`); errors name it.
    public static func timeZone(_ name: String, as field: String = "timezone") throws -> TimeZone {
        guard let zone = TimeZone(identifier: name) else {
            throw KajiError(.invalidArgument, "\(field) '\(name)' is not an IANA time zone name (e.g. UTC, Asia/Tokyo, Europe/Berlin)")
        }
        return zone
    }
}
