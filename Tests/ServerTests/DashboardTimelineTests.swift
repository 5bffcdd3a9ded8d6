import Foundation
import Testing
@testable import Engine
@testable import Server

/// The run timeline's drawing, from a run's records: rows, bars, waits, colours, escaping.
@Suite("the dashboard's run timeline")
struct DashboardTimelineTests {
    struct DrawnBar {
        var step: String
        var kind: String
        var attempt: Int?
        var outcome: String
        var x: Double
        var y: Double
        var width: Double
        var fill: String
    }

    /// The bars of an SVG, read back from its markup.
    static func bars(_ svg: String) -> [DrawnBar] {
        func attribute(_ name: String, _ tag: String) -> String? { PageReply.firstMatch(" \(name)=\"([^\"]*)\"", in: tag) }
        return svg.components(separatedBy: "<rect class=\"bar ").dropFirst().map { rest in
            let tag = String(rest.prefix { $0 != ">" })
            return DrawnBar(step: attribute("data-step", tag) ?? "", kind: attribute("data-kind", tag) ?? "", attempt: attribute("data-attempt", tag).flatMap { Int($0) },
                            outcome: attribute("data-outcome", tag) ?? "", x: Double(attribute("x", tag) ?? "") ?? -1, y: Double(attribute("y", tag) ?? "") ?? -1,
                            width: Double(attribute("width", tag) ?? "") ?? -1, fill: attribute("fill", tag) ?? "")
        }
    }

    func attempt(_ n: Int, _ outcome: StepAttemptOutcome, _ start: Double, _ end: Double, _ t0: Date, error: String? = nil) -> StepAttemptRecord {
        StepAttemptRecord(attempt: n, epoch: 1, worker: "worker:w1", attemptOutcome: outcome, error: error, startedAt: t0 + start, finishedAt: t0 + end,
                          durationMs: (end - start) * 1000)
    }

    func step(_ name: String, _ state: StepState, start: Double?, end: Double?, attempts: Int, wait: String? = nil, history: [StepAttemptRecord], _ t0: Date) -> StepRecord {
        StepRecord(name: name, state: state, attempts: attempts, epoch: 1, worker: "worker:w1", startedAt: start.map { t0 + $0 }, finishedAt: end.map { t0 + $0 },
                   durationMs: nil, error: nil, result: nil, wait: wait, history: history)
    }

    @Test("one bar per attempt (retries apart, in order), parallel steps on rows of their own, waits hatched, the attempt in flight to now; names escaped")
    func bars() throws {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let run = RunSummary(id: UUID(), kind: "cluster.provision", state: .running, queue: "default", priority: 0, attempt: 1, maxAttempts: 3, epoch: 1,
                             leaseOwner: "worker:w1", idempotencyKey: nil, concurrencyKey: "cluster:a", actor: "token:alice", cancelRequestedBy: nil,
                             cancelReason: nil, createdAt: t0, runAt: t0, startedAt: t0, finishedAt: nil, lastError: nil)
        let steps = [
            step("approval", .succeeded, start: 0, end: 1, attempts: 1, wait: #"{"kind":"signal","signal":"approval"}"#, history: [], t0),
            step("create-server:a-master-1", .succeeded, start: 5, end: 8, attempts: 3, history: [
                attempt(1, .failed, 1.5, 2, t0, error: "HTTP 503 <busy>"), attempt(2, .failed, 3, 4, t0), attempt(3, .succeeded, 5, 8, t0)], t0),
            step("create-server:a-worker-1", .succeeded, start: 1, end: 7, attempts: 1, history: [attempt(1, .succeeded, 1, 7, t0)], t0),
            step("disk-ready:a-master-1", .waiting, start: 8, end: nil, attempts: 1, wait: #"{"kind":"poll","polls":3}"#, history: [], t0),
            step("ssh:<a-worker-1>", .running, start: 9, end: nil, attempts: 2, history: [attempt(1, .failed, 8.5, 8.8, t0)], t0),
            step("never-started", .pending, start: nil, end: nil, attempts: 0, history: [], t0),
        ]
        let detail = RunDetail(run: run, input: "{}", output: nil, steps: steps, events: [])
        let timeline = DashboardTimeline(detail, now: t0 + 10)
        #expect(timeline.rows.map(\.step) == ["approval", "create-server:a-worker-1", "create-server:a-master-1", "disk-ready:a-master-1", "ssh:<a-worker-1>"],
                "by first start; a step never started has no row")
        #expect(timeline.start == t0 && timeline.end == t0 + 10)
        let svg = timeline.svg.description
        let bars = Self.bars(svg)
        #expect(bars.count == 8)
        #expect(bars.filter { $0.kind == "attempt" }.count == 5 && bars.filter { $0.kind == "wait" }.count == 2 && bars.filter { $0.kind == "running" }.count == 1)

        let retried = bars.filter { $0.step == "create-server:a-master-1" }
        #expect(retried.map(\.attempt) == [1, 2, 3])
        #expect(retried.map(\.outcome) == ["failed", "failed", "succeeded"])
        #expect(retried.map(\.fill) == ["#c62828", "#c62828", "#2e7d32"])
        #expect(Set(retried.map(\.y)).count == 1, "one row")
        #expect(zip(retried, retried.dropFirst()).allSatisfy { $0.x + $0.width <= $1.x }, "apart, in order")
        let parallel = try #require(bars.first { $0.step == "create-server:a-worker-1" })
        #expect(parallel.y != retried[0].y && parallel.x < retried[2].x + retried[2].width && retried[0].x < parallel.x + parallel.width,
                "parallel steps overlap in time on rows of their own")
        let waits = bars.filter { $0.kind == "wait" }
        #expect(waits.map(\.fill) == ["url(#hatch-succeeded)", "url(#hatch-waiting)"])
        #expect(waits.map(\.outcome) == ["succeeded", "waiting"])
        // The chart spans 650 units for 10 s: the open wait runs from 8 s to now (10 s).
        #expect(abs(waits[1].x - (230 + 0.8 * 650)) < 0.01 && abs(waits[1].width - 0.2 * 650) < 0.01)
        let running = try #require(bars.first { $0.kind == "running" })
        #expect(running.attempt == 2 && running.fill == "#1565c0" && abs(running.x + running.width - 880) < 0.01)

        #expect(svg.contains("data-step=\"ssh:&lt;a-worker-1&gt;\"") && !svg.contains("<a-worker-1>"))
        #expect(svg.contains("HTTP 503 &lt;busy&gt;"), "an attempt's error in its bar's title, escaped")
        #expect(svg.contains(">+0 s<") && svg.contains(">+10 s<"), "the axis")
        #expect(svg.contains("approval") && svg.contains("durable wait (approval)"))
    }

    @Test("HTML escapes text for elements and attributes; interpolated HTML stays markup")
    func escaping() {
        let hostile = #"<a href="x" onclick='y'>&</a>"#
        let html: HTML = "<p title=\"\(hostile)\">\(hostile)</p>\(HTML("<br>"))"
        #expect(html.description == "<p title=\"&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;\">&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;</p><br>")
        let empty: String? = nil
        #expect(HTML("\(empty)").description == "")
        #expect(HTML.number(12.0) == "12" && HTML.number(3.456) == "3.46" && HTML.number(0.5) == "0.5")
    }

    @Test("forms: URL-encoded fields decode (+ is a space), a NUL is refused naming the field, redirects stay on this server")
    func forms() throws {
        let form = try DashboardForm.parse("reason=looks+%3Cright%3E&csrf=a%2Bb&empty=&reason=second")
        #expect(form["reason"] == "looks <right>" && form["csrf"] == "a+b" && form.text("empty") == nil)
        #expect(throws: KajiError.self) { try DashboardForm.parse("reason=a%00b") }
        #expect(throws: KajiError.self) { try DashboardForm.parse("reason=%E0%A4") }
        #expect(DashboardForm.url("/runs", [("actor", "token:a b"), ("kind", nil), ("cursor", "x/y+z")]) == "/runs?actor=token%3Aa%20b&cursor=x%2Fy%2Bz")
        #expect(Dashboard.safeNext("/runs?state=failed") == "/runs?state=failed")
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "/login", "runs", "/x\ny", nil] {
            #expect(Dashboard.safeNext(bad) == "/runs", "\(bad ?? "nil")")
        }
    }
}
