import Engine
import Foundation
import Hummingbird

/// `GET /runs/{id}`: one run: its facts, the buttons the person's role allows, its steps on a timeline,
/// the steps, the errors and the audit trail. `POST /runs/{id}/{approve|reject|cancel|retry}`: the buttons,
/// through `KajiClient` with the session's principal as the actor (so the four-eyes rule applies).
/// `GET /runs/{id}/events`: the run's event stream for the page's script.
extension Dashboard {
    static func runID(_ call: DashboardCall) throws -> UUID {
        let text = call.path("id")
        guard let id = UUID(uuidString: text) else { throw KajiError(.runNotFound, "no run with id '\(text.prefix(100))' (a run id is a UUID)", field: "run") }
        return id
    }

    /// The step of `detail` that waits for an approval, if any.
    static func approvalStep(_ detail: RunDetail) -> StepRecord? {
        detail.steps.first { step in
            guard step.state == .waiting, let wait = step.wait,
                  let object = (try? JSONSerialization.jsonObject(with: Data(wait.utf8))) as? [String: Any] else { return false }
            return object["signal"] as? String == KajiClient.approvalSignal
        }
    }

    func runPage(_ call: DashboardCall) async throws -> Response {
        try await runPage(call, problem: nil)
    }

    /// The run page; `problem` (a refused button) is shown above it with its status.
    func runPage(_ call: DashboardCall, problem: (status: HTTPResponse.Status, message: String)?) async throws -> Response {
        let id = try Self.runID(call)
        let detail = try await client.run(id: id)
        let run = detail.run
        let idText = id.uuidString.lowercased()
        let awaiting = Self.approvalStep(detail)
        let problemBanner: HTML = problem.map { problem -> HTML in "<p class=\"flash bad\" role=\"alert\">\(problem.message)</p>" } ?? .empty
        let timeline = DashboardTimeline(detail)
        let events: HTML = run.state.isFinished ? .empty : " data-events=\"/runs/\(idText)/events\""
        let legend: HTML = timeline.rows.isEmpty ? .empty : DashboardTimeline.legend
        let stateBadge = awaiting != nil ? DashboardLayout.badge("waiting for approval", "waiting") : DashboardLayout.badge(run.state.rawValue)
        let live: HTML = """
            <div id="live"\(events) data-state="\(run.state.rawValue)">
            <p>\(stateBadge) <span class="muted" id="live-status"></span></p>
            \(facts(detail))
            \(actions(call, detail: detail, awaiting: awaiting != nil))
            <h2>Timeline</h2>
            <div class="scroll">\(timeline.svg)</div>
            \(legend)
            \(stepTable(detail))
            \(errors(detail))
            <h2>Audit trail</h2>
            \(auditTable(detail.events.map(AuditEventDocument.init), showRun: false))
            <h2>Input and output</h2>
            <details><summary>Input</summary><pre>\(JSONFragment(detail.input).text)</pre></details>
            \(detail.output.map { output -> HTML in "<details><summary>Output</summary><pre>\(JSONFragment(output).text)</pre></details>" } ?? .empty)
            </div>
            """
        // `?part=live`: the live part alone, for the page's script (no frame, no style to parse again).
        if call.query["part"] == "live" && problem == nil { return Self.html(.ok, live, nonce: call.nonce) }
        let body: HTML = """
            <h1>\(run.kind) <code class="wrap">\(idText)</code></h1>
            \(problemBanner)
            \(live)
            """
        return Self.html(problem?.status ?? .ok, DashboardLayout.page(title: "\(run.kind) …\(DashboardLayout.shortID(id))", call: call, body: body, script: Self.liveScript), nonce: call.nonce)
    }

    func facts(_ detail: RunDetail) -> HTML {
        let run = detail.run
        var rows: [(String, HTML)] = [
            ("Requested by", "\(run.actor)"),
            ("Cluster / key", run.concurrencyKey == nil ? "—" : DashboardLayout.keyLink(run.concurrencyKey)),
            ("Queue", "\(run.queue) (priority \(run.priority))"),
            ("Attempt", "\(run.attempt) of \(run.maxAttempts)"),
            ("Enqueued", DashboardLayout.timeTag(run.createdAt)),
        ]
        if let started = run.startedAt { rows.append(("Started", DashboardLayout.timeTag(started))) }
        if let finished = run.finishedAt {
            rows.append(("Finished", "\(DashboardLayout.timeTag(finished)) (took \(DashboardLayout.duration(from: run.startedAt ?? run.createdAt, to: finished)))"))
        }
        if let owner = run.leaseOwner, !run.state.isFinished { rows.append(("Worker", "\(owner)")) }
        if let by = run.cancelRequestedBy {
            let reason = run.cancelReason.map { ": " + $0 } ?? ""
            rows.append(("Cancel requested by", "\(by)\(reason)"))
        }
        if let key = run.idempotencyKey { rows.append(("Idempotency key", "\(key)")) }
        let items = rows.map { label, value -> HTML in "<dt>\(label)</dt><dd>\(value)</dd>" }
        return "<dl class=\"facts\">\(items)</dl>"
    }

    /// The buttons the principal's role allows for this run now: none for a viewer.
    func actions(_ call: DashboardCall, detail: RunDetail, awaiting: Bool) -> HTML {
        let role = call.principal.role, run = detail.run
        let base = "/runs/\(run.id.uuidString.lowercased())/"
        let csrf: HTML = "<input type=\"hidden\" name=\"csrf\" value=\"\(call.session.csrf)\">"
        var forms: [HTML] = []
        if role >= .approver && awaiting {
            forms.append("""
                <form method="post" action="\(base)approve">\(csrf)<input name="reason" placeholder="reason (optional)" maxlength="500" aria-label="Reason to approve"><button type="submit" name="action" value="approve" class="approve">Approve</button></form>
                """)
            forms.append("""
                <form method="post" action="\(base)reject">\(csrf)<input name="reason" placeholder="reason (required)" required maxlength="500" aria-label="Reason to reject"><button type="submit" name="action" value="reject" class="reject">Reject</button></form>
                """)
        }
        if role >= .operator && !run.state.isFinished && run.cancelRequestedBy == nil {
            forms.append("""
                <form method="post" action="\(base)cancel">\(csrf)<input name="reason" placeholder="reason (optional)" maxlength="500" aria-label="Reason to cancel"><button type="submit" name="action" value="cancel" class="cancel">Cancel</button></form>
                """)
        }
        if role >= .operator && (run.state == .failed || run.state == .cancelled) {
            forms.append("""
                <form method="post" action="\(base)retry">\(csrf)<button type="submit" name="action" value="retry">Retry</button></form>
                """)
        }
        return forms.isEmpty ? .empty : "<div class=\"actions\">\(forms)</div>"
    }

    func stepTable(_ detail: RunDetail) -> HTML {
        guard !detail.steps.isEmpty else { return .empty }
        let now = Date()
        let rows = detail.steps.map { step -> HTML in
            let wait: HTML = step.wait.map { wait -> HTML in " <span class=\"muted\">(\(DashboardTimeline.WaitDescription(wait).summary))</span>" } ?? .empty
            return """
                <tr data-step="\(step.name)"><td class="wrap">\(step.name)\(wait)</td><td>\(DashboardLayout.badge(step.state.rawValue))</td>\
                <td>\(step.attempts)</td><td class="nowrap">\(DashboardLayout.timeTag(step.startedAt))</td>\
                <td class="nowrap">\(DashboardLayout.duration(from: step.startedAt, to: step.finishedAt, now: now))</td><td class="wrap">\(step.worker)</td></tr>
                """
        }
        return """
            <h2>Steps (\(detail.steps.count))</h2>
            <div class="scroll"><table class="steps">
            <thead><tr><th>Step</th><th>State</th><th>Attempts</th><th>Started</th><th>Took</th><th>Worker</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }

    /// The run's error and every failed attempt's.
    func errors(_ detail: RunDetail) -> HTML {
        var items: [HTML] = []
        if let error = detail.run.lastError { items.append("<li><strong>Run</strong>: <pre>\(error)</pre></li>") }
        for step in detail.steps {
            for attempt in step.history where attempt.attemptOutcome == .failed {
                items.append("""
                    <li><strong class="wrap">\(step.name)</strong>, attempt \(attempt.attempt) at \(DashboardLayout.timeTag(attempt.finishedAt)): <pre>\(attempt.error ?? "failed")</pre></li>
                    """)
            }
            if step.wait != nil, step.state == .failed, let error = step.error {
                items.append("<li><strong class=\"wrap\">\(step.name)</strong> (wait): <pre>\(error)</pre></li>")
            }
        }
        guard !items.isEmpty else { return .empty }
        return "<h2>Errors (\(items.count))</h2><ul class=\"errors\">\(items)</ul>"
    }

    func runAction(_ call: DashboardCall) async throws -> Response {
        let id = try Self.runID(call)
        let action = call.path("action")
        let actor = call.principal.actor
        let reason = call.form.text("reason")
        let message: String
        do {
            switch action {
            case "approve":
                try Self.require(call, .approver, to: "approve")
                try await client.approve(runID: id, reason: reason, sender: actor)
                message = "Approved by \(actor)."
            case "reject":
                try Self.require(call, .approver, to: "reject")
                try await client.reject(runID: id, reason: reason ?? "", sender: actor)
                message = "Rejected by \(actor)."
            case "cancel":
                try Self.require(call, .operator, to: "cancel")
                let outcome = try await client.cancel(runID: id, reason: reason, actor: actor)
                message = outcome == .cancelled ? "Cancelled by \(actor)." : "Cancel requested by \(actor): the run stops at its next step boundary."
            case "retry":
                try Self.require(call, .operator, to: "retry")
                _ = try await client.retry(id: id, actor: actor)
                message = "Retried by \(actor): the run is queued again."
            default:
                throw DashboardRefusal(status: .notFound, title: "Not found", message: "There is no button \(action.prefix(40)) (approve, reject, cancel, retry).")
            }
        } catch let refusal as DashboardRefusal {
            return try await runPage(call, problem: (refusal.status, refusal.message))
        } catch let error as KajiError where ErrorStatus.status(for: error.code) != nil && error.code != .runNotFound {
            return try await runPage(call, problem: (ErrorStatus.status(for: error.code) ?? .badRequest, "Not done: \(error.message)"))
        }
        await sessions.setFlash(call.session.id, .init(ok: true, message: message))
        return Self.redirect("/runs/\(id.uuidString.lowercased())")
    }

    static func require(_ call: DashboardCall, _ role: APIRole, to verb: String) throws {
        guard call.principal.role >= role else {
            throw DashboardRefusal(status: .forbidden, title: "Refused",
                                   message: "Not done: \(call.principal.actor) has role \(call.principal.role.rawValue); to \(verb) a run needs \(role.rawValue) or above.")
        }
    }

    /// `GET /runs/{id}/events` for a session: the API's event stream (`RunEventStream`), for the run
    /// page's script. Without a session: 401.
    func events(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let (_, principal) = try await session(of: request) else {
            throw KajiError(.unauthenticated, "no dashboard session: log in at /login")
        }
        let call = APICall(request: request, parameters: context.parameters, body: Data(), principal: principal)
        return try await RunEventStream.response(server, call)
    }

    /// Follows the run's event stream (when the page has `data-events`: the run is not finished) and, a
    /// moment after each change, reads the page again and swaps its live part in (not while a field of it
    /// is being typed in). Without JavaScript the page is complete as served.
    static let liveScript: HTML = """
        (function () {
          var live = document.getElementById('live');
          if (!live || !window.EventSource || !window.fetch || !window.DOMParser) return;
          var url = live.getAttribute('data-events');
          if (!url) return;
          var source = new EventSource(url);
          var timer = null, busy = false, again = false;
          function status(text) { var s = document.getElementById('live-status'); if (s) s.textContent = text; }
          status('live');
          function refresh() {
            timer = null;
            if (busy) { again = true; return; }
            busy = true;
            fetch(location.pathname + '?part=live', { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
              .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
              .then(function (text) {
                var next = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
                var active = document.activeElement;
                var typing = active && live.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'TEXTAREA');
                if (next && !typing) { live.replaceWith(next); live = next; status(next.getAttribute('data-events') ? 'live' : ''); }
              })
              .catch(function () { status('not updating: reload the page'); })
              .then(function () { busy = false; if (again) { again = false; schedule(); } });
          }
          function schedule() { if (!timer) timer = setTimeout(refresh, 300); }
          source.onmessage = schedule;
          source.addEventListener('end', function () { source.close(); schedule(); });
          source.addEventListener('error', function () { if (source.readyState === 2) status('not updating: reload the page'); });
        })();
        """
}
