import Engine
import Foundation

/// A cluster's API health over time, as inline SVG: one row for the API server (answered and passed,
/// answered but not passing, or no answer) and one per readyz check, one cell per stored result, oldest on
/// the left; each cell's title says when and what.
struct DashboardHealthChart {
    /// Oldest first.
    let results: [ClusterHealthResult]
    /// The checks in the order of the newest result, then any older ones.
    let checks: [String]

    static let labelWidth = 260.0
    static let chartWidth = 620.0
    static let rowHeight = 18.0
    static let axisHeight = 20.0

    /// `history` newest first, as `KajiClient.clusterHealthHistory` gives it.
    init(history: [ClusterHealthResult]) {
        results = history.reversed()
        var names: [String] = []
        for result in history {
            for check in result.checks where !names.contains(check.name) { names.append(check.name) }
        }
        checks = names
    }

    var svg: HTML {
        guard let first = results.first, let last = results.last else { return "<p class=\"muted\">Not checked yet: the workers of the cluster's zone check ready clusters.</p>" }
        let cell = min(14, Self.chartWidth / Double(results.count))
        let rowCount = 1 + checks.count
        let height = Self.axisHeight + Double(rowCount) * Self.rowHeight + 18
        var rows: [HTML] = []
        func label(_ index: Int, _ text: String) -> HTML {
            let y = Self.axisHeight + Double(index) * Self.rowHeight + Self.rowHeight / 2 + 4
            let short = text.count > 40 ? String(text.prefix(39)) + "…" : text
            return "<text x=\"\(Self.labelWidth - 6)\" y=\"\(y)\" text-anchor=\"end\"><title>\(text)</title>\(short)</text>"
        }
        func box(_ index: Int, _ column: Int, fill: String, check: String, ok: String, title: String) -> HTML {
            let x = Self.labelWidth + Double(column) * cell
            let y = Self.axisHeight + Double(index) * Self.rowHeight + 2
            return "<rect class=\"cell\" data-check=\"\(check)\" data-ok=\"\(ok)\" x=\"\(x)\" y=\"\(y)\" width=\"\(max(1, cell - 1))\" height=\"\(Self.rowHeight - 4)\" fill=\"\(fill)\"><title>\(title)</title></rect>"
        }
        rows.append(label(0, "API server"))
        for (column, result) in results.enumerated() {
            let when = DashboardLayout.time(result.checkedAt)
            let (fill, ok) = result.passed ? ("#2e7d32", "true") : result.up ? ("#b7791f", "false") : ("#c62828", "false")
            let detail = result.passed ? "up, readyz passed" : (result.reason ?? result.status)
            rows.append(box(0, column, fill: fill, check: "", ok: ok, title: "\(when) API server: \(detail) (\(DashboardLayout.duration(result.durationSeconds)), \(result.checkedBy))"))
        }
        for (row, name) in checks.enumerated() {
            rows.append(label(row + 1, name))
            for (column, result) in results.enumerated() {
                let when = DashboardLayout.time(result.checkedAt)
                if let check = result.checks.first(where: { $0.name == name }) {
                    rows.append(box(row + 1, column, fill: check.ok ? "#2e7d32" : "#c62828", check: name, ok: check.ok ? "true" : "false",
                                    title: "\(when) \(name): \(check.detail)"))
                } else {
                    rows.append(box(row + 1, column, fill: "#dadce0", check: name, ok: "unknown",
                                    title: "\(when) \(name): no answer (\(result.reason ?? result.status))"))
                }
            }
        }
        let bottom = height - 4
        return """
            <svg class="timeline health" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Self.labelWidth + Self.chartWidth + 10) \(height)" role="img" \
            aria-label="API health of \(results.count) checks from \(DashboardLayout.time(first.checkedAt)) to \(DashboardLayout.time(last.checkedAt))">\
            <text class="axis" x="\(Self.labelWidth)" y="\(Self.axisHeight - 6)">oldest →</text>\
            \(rows)\
            <text class="axis" x="\(Self.labelWidth)" y="\(bottom)">\(results.count) \(results.count == 1 ? "result" : "results"), \(DashboardLayout.time(first.checkedAt)) to \(DashboardLayout.time(last.checkedAt))</text>\
            </svg>
            """
    }

    static var legend: HTML {
        func item(_ fill: String, _ label: String) -> HTML {
            "<li><svg width=\"14\" height=\"12\" viewBox=\"0 0 14 12\" aria-hidden=\"true\"><rect width=\"14\" height=\"12\" fill=\"\(fill)\"/></svg>\(label)</li>"
        }
        return "<ul class=\"legend\">\(item("#2e7d32", "ok / passed"))\(item("#b7791f", "answered, not passing"))\(item("#c62828", "failed / no answer"))\(item("#dadce0", "not reported"))</ul>"
    }
}
