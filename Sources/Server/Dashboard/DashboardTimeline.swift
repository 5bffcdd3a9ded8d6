import Engine
import Foundation

/// A run's steps on a time axis, as inline SVG: one row per step (parallel steps, e.g. one per node, on
/// rows of their own, side by side in time), one bar per attempt of a step (a retried step shows each
/// attempt apart), a durable wait as a hatched bar of its own, colours by outcome; a legend beside it.
///
/// Every bar is a `rect` of class `bar` with `data-step`, `data-kind` (`attempt`, `running` or `wait`),
/// `data-attempt` (attempts) and `data-outcome`, and a `title` that says what it was.
struct DashboardTimeline {
    /// One bar.
    struct Bar: Equatable {
        enum Kind: String { case attempt, running, wait }
        var step: String
        var kind: Kind
        var attempt: Int?
        /// `succeeded`, `failed`, `running`, `waiting`.
        var outcome: String
        var start: Date
        var end: Date
        var title: String
    }

    /// One row: a step and its bars.
    struct Row {
        var step: String
        var bars: [Bar]
    }

    let rows: [Row]
    let start: Date
    let end: Date

    static let labelWidth = 230.0
    static let chartWidth = 650.0
    static let rowHeight = 22.0
    static let barHeight = 14.0
    static let axisHeight = 26.0
    /// With room on the right for the last tick's label.
    static var width: Double { labelWidth + chartWidth + 30 }

    /// The rows of `detail`'s steps, ordered by their first start (steps not started last); `now` ends the
    /// bars of what is still going on.
    init(_ detail: RunDetail, now: Date = Date()) {
        var rows: [(first: Date, row: Row)] = []
        for step in detail.steps {
            let bars = Self.bars(of: step, now: now)
            guard let first = bars.map(\.start).min() else { continue }
            rows.append((first, Row(step: step.name, bars: bars)))
        }
        rows.sort { $0.first < $1.first }
        self.rows = rows.map(\.row)
        let starts = self.rows.flatMap { $0.bars.map(\.start) } + [detail.run.startedAt].compactMap { $0 }
        let ends = self.rows.flatMap { $0.bars.map(\.end) } + [detail.run.finishedAt].compactMap { $0 }
        let start = starts.min() ?? detail.run.createdAt
        var end = ends.max() ?? now
        if end.timeIntervalSince(start) < 1 { end = start.addingTimeInterval(1) }
        self.start = start
        self.end = end
    }

    /// A step's bars: each finished attempt, the attempt in flight, and its wait.
    static func bars(of step: StepRecord, now: Date) -> [Bar] {
        var bars: [Bar] = []
        for attempt in step.history {
            let what = attempt.attemptOutcome == .succeeded ? "succeeded" : "failed"
            var title = "\(step.name): attempt \(attempt.attempt) \(what) after \(DashboardLayout.duration(attempt.durationMs / 1000))"
            if let worker = attempt.worker { title += " on \(worker)" }
            if let error = attempt.error { title += ": \(error)" }
            bars.append(Bar(step: step.name, kind: .attempt, attempt: attempt.attempt, outcome: attempt.outcome,
                            start: attempt.startedAt, end: max(attempt.finishedAt, attempt.startedAt), title: title))
        }
        if let wait = step.wait, let started = step.startedAt {
            let record = WaitDescription(wait)
            let outcome = step.state == .waiting ? "waiting" : (step.state == .failed ? "failed" : "succeeded")
            let end = step.state == .waiting ? now : (step.finishedAt ?? now)
            var title = "\(step.name): durable wait (\(record.summary)) \(outcome == "waiting" ? "waiting for" : "\(outcome) after") \(DashboardLayout.duration(end.timeIntervalSince(started)))"
            if let error = step.error, outcome == "failed" { title += ": \(error)" }
            bars.append(Bar(step: step.name, kind: .wait, attempt: nil, outcome: outcome, start: started, end: max(end, started), title: title))
        } else if step.state == .running, let started = step.startedAt {
            var title = "\(step.name): attempt \(step.attempts) running for \(DashboardLayout.duration(now.timeIntervalSince(started)))"
            if let worker = step.worker { title += " on \(worker)" }
            bars.append(Bar(step: step.name, kind: .running, attempt: step.attempts, outcome: "running", start: started, end: max(now, started), title: title))
        }
        return bars
    }

    /// What a step's wait record (`steps.wait`) says, in words.
    struct WaitDescription {
        var summary: String

        init(_ json: String) {
            let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
            switch object["kind"] as? String {
            case "sleep": summary = "sleep"
            case "signal":
                let signal = object["signal"] as? String ?? "?"
                summary = signal == KajiClient.approvalSignal ? "approval" : "signal \(signal)"
            case "poll":
                let polls = object["polls"] as? Int ?? 0
                summary = "poll, \(polls) \(polls == 1 ? "check" : "checks")"
            default: summary = "wait"
            }
        }
    }

    // MARK: drawing

    func x(_ date: Date) -> Double {
        let span = end.timeIntervalSince(start)
        return Self.labelWidth + max(0, min(1, date.timeIntervalSince(start) / span)) * Self.chartWidth
    }

    static func fill(_ bar: Bar) -> String {
        switch (bar.kind, bar.outcome) {
        case (.wait, "failed"): return "url(#hatch-failed)"
        case (.wait, "waiting"): return "url(#hatch-waiting)"
        case (.wait, _): return "url(#hatch-succeeded)"
        case (_, "succeeded"): return "#2e7d32"
        case (_, "failed"): return "#c62828"
        default: return "#1565c0"
        }
    }

    /// Seconds between ticks: about six ticks over `span`.
    static func tickStep(_ span: Double) -> Double {
        let steps: [Double] = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
        return steps.first { span / $0 <= 7 } ?? (span / 6).rounded(.up)
    }

    /// `+0 s`, `+1.5 s`, `+2 m`, `+1 h 30 m`.
    static func tickLabel(_ seconds: Double) -> String {
        if seconds < 60 { return seconds == seconds.rounded() ? "+\(Int(seconds)) s" : String(format: "+%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return whole % 60 == 0 ? "+\(whole / 60) m" : "+\(whole / 60) m \(whole % 60) s" }
        return whole % 3600 == 0 ? "+\(whole / 3600) h" : "+\(whole / 3600) h \((whole % 3600) / 60) m"
    }

    static let patterns: HTML = """
        <defs>\
        <pattern id="hatch-waiting" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdf0c8"/><rect width="3" height="6" fill="#b7791f"/></pattern>\
        <pattern id="hatch-succeeded" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#dcefdc"/><rect width="3" height="6" fill="#2e7d32"/></pattern>\
        <pattern id="hatch-failed" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f8dcdc"/><rect width="3" height="6" fill="#c62828"/></pattern>\
        </defs>
        """

    /// The SVG, or a sentence when no step has started.
    var svg: HTML {
        guard !rows.isEmpty else { return "<p class=\"muted\">No step has started yet.</p>" }
        let height = Self.axisHeight + Double(rows.count) * Self.rowHeight + 4
        let span = end.timeIntervalSince(start)
        let step = Self.tickStep(span)
        var ticks: [HTML] = []
        var t = 0.0
        while t <= span + 1e-9 {
            let tx = Self.labelWidth + t / span * Self.chartWidth
            ticks.append("""
                <line x1="\(tx)" y1="\(Self.axisHeight - 4)" x2="\(tx)" y2="\(height)" stroke="#e0e0e0" stroke-width="1"/>\
                <text class="axis" x="\(tx)" y="\(Self.axisHeight - 8)" text-anchor="middle">\(Self.tickLabel(t))</text>
                """)
            t += step
        }
        var body: [HTML] = []
        for (index, row) in rows.enumerated() {
            let y = Self.axisHeight + Double(index) * Self.rowHeight
            let label = row.step.count > 34 ? String(row.step.prefix(33)) + "…" : row.step
            body.append("""
                <g class="row" data-step="\(row.step)">\
                <text x="\(Self.labelWidth - 6)" y="\(y + Self.rowHeight / 2 + 4)" text-anchor="end"><title>\(row.step)</title>\(label)</text>
                """)
            for bar in row.bars {
                let x0 = x(bar.start), x1 = x(bar.end)
                let width = max(2, x1 - x0)
                let attempt: HTML = bar.attempt.map { number -> HTML in " data-attempt=\"\(number)\"" } ?? .empty
                let inset = bar.kind == .wait ? 1.0 : 0.0
                let stroke: HTML = bar.kind == .wait ? " stroke=\"#8a6d1f\" stroke-width=\"0.5\"" : .empty
                body.append("""
                    <rect class="bar \(bar.kind.rawValue) \(bar.outcome)" data-step="\(bar.step)" data-kind="\(bar.kind.rawValue)"\(attempt) data-outcome="\(bar.outcome)" \
                    x="\(min(x0, Self.labelWidth + Self.chartWidth - 2))" y="\(y + (Self.rowHeight - Self.barHeight) / 2 + inset)" width="\(width)" height="\(Self.barHeight - 2 * inset)" \
                    rx="2" fill="\(Self.fill(bar))"\(stroke)><title>\(bar.title)</title></rect>
                    """)
            }
            body.append("</g>")
        }
        return """
            <svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Self.width) \(height)" role="img" \
            aria-label="Timeline of \(rows.count) steps from \(DashboardLayout.time(start)) to \(DashboardLayout.time(end))">\
            \(Self.patterns)\(ticks)\(body)</svg>
            """
    }

    /// The key to the colours.
    static var legend: HTML {
        func item(_ fill: String, _ label: String) -> HTML {
            "<li><svg width=\"22\" height=\"12\" viewBox=\"0 0 22 12\" aria-hidden=\"true\"><rect width=\"22\" height=\"12\" rx=\"2\" fill=\"\(fill)\"/></svg>\(label)</li>"
        }
        return """
            <ul class="legend">\
            \(item("#2e7d32", "attempt succeeded"))\(item("#c62828", "attempt failed"))\(item("#1565c0", "attempt running"))\
            \(item("url(#hatch-waiting)", "durable wait (waiting)"))\(item("url(#hatch-succeeded)", "durable wait, ended"))\(item("url(#hatch-failed)", "durable wait, failed"))\
            </ul>
            """
    }
}
