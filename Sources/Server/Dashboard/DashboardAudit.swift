import Engine
import Foundation
import Hummingbird

/// `GET /audit`: the audit trail, newest first, filtered by actor, type and run, older pages by the
/// trail's cursor; on the first page, the result of `audit verify` (the hash chain checked, optionally
/// against a head recorded elsewhere: `expectHead=SEQ:HASH`).
extension Dashboard {
    static let auditPerPage = 100

    func auditPage(_ call: DashboardCall) async throws -> Response {
        let actor = call.query.text("actor"), type = call.query.text("type"), runText = call.query.text("run")
        let cursor = call.query.text("cursor"), expectText = call.query.text("expectHead")
        var filter = AuditFilter(actor: actor, type: type, limit: Self.auditPerPage)
        if let runText {
            guard let id = UUID(uuidString: runText) else { throw KajiError(.invalidArgument, "run '\(runText.prefix(100))' is not a run id (a UUID)", field: "run") }
            filter.runID = id
        }
        let expect = try expectText.map { try AuditHead.parse($0) }
        let page = try await client.auditPage(filter, cursor: cursor)
        // The chain is checked on the first page (each check walks the whole chain).
        let verification: HTML = cursor == nil ? verificationBlock(try await client.verifyAudit(expectHead: expect), expected: expect) : .empty
        func url(_ extra: [(String, String?)]) -> String {
            DashboardForm.url("/audit", [("actor", actor), ("type", type), ("run", runText)] + extra)
        }
        let older: HTML = page.nextCursor.map { next -> HTML in "<p class=\"pager\"><a rel=\"next\" href=\"\(url([("cursor", next)]))\">Older events →</a></p>" } ?? .empty
        let newest: HTML = cursor == nil ? .empty : "<p class=\"pager\"><a href=\"\(url([]))\">← Newest events</a></p>"
        let types = AuditEventType.allCases.map(\.rawValue)
        let typeOptions = ["<option value=\"\"\(type == nil ? " selected" : "")>any</option>" as HTML] + types.map { t -> HTML in
            "<option value=\"\(t)\"\(t == type ? " selected" : "")>\(t)</option>"
        }
        let body: HTML = """
            <h1>Audit trail</h1>
            \(verification)
            <form method="get" action="/audit" class="filters">
            <label>Actor <input name="actor" value="\(actor)" placeholder="token:alice" size="16"></label>
            <label>Type <select name="type">\(typeOptions)</select></label>
            <label>Run <input name="run" value="\(runText)" placeholder="run id" size="20"></label>
            <label>Expected head <input name="expectHead" value="\(expectText)" placeholder="SEQ:HASH" size="16"></label>
            <button type="submit">Show</button>
            <a href="/audit">Clear</a>
            </form>
            \(newest)
            \(page.items.isEmpty ? "<p class=\"muted\">No events.</p>" : auditTable(page.items.reversed(), showRun: true))
            \(older)
            """
        return Self.html(.ok, DashboardLayout.page(title: "Audit", call: call, body: body), nonce: call.nonce)
    }

    func verificationBlock(_ result: AuditVerification, expected: AuditHead?) -> HTML {
        let head = "\(result.headSeq):\(result.headHash)"
        if result.ok {
            let anchor: HTML = expected.map { head -> HTML in "; it still holds the expected head <code>\(head.seq):\(head.hash)</code>" } ?? .empty
            return """
                <div class="flash ok" id="audit-verify" data-ok="true"><strong>audit verify: ok.</strong> \(result.checked) chain entries checked \
                (\(result.sealedNow) sealed now)\(anchor). Head: <code class="wrap">\(head)</code> (record it elsewhere to detect a rewritten chain later).</div>
                """
        }
        let problem = result.problem
        let fields: HTML = (problem?.fields.isEmpty ?? true) ? .empty : " (fields: \(problem?.fields.joined(separator: ", ") ?? ""))"
        return """
            <div class="flash bad" id="audit-verify" data-ok="false" role="alert"><strong>audit verify: FAILED.</strong> \
            \(problem?.kind.rawValue ?? "problem") at chain entry \(problem?.seq ?? 0)\(problem?.eventId.map { ", event \($0)" } ?? ""): \
            \(problem?.message ?? "the chain does not check out")\(fields). \(result.checked) entries checked.</div>
            """
    }

    /// Audit events as a table, in the order given.
    func auditTable<Events: Sequence<AuditEventDocument>>(_ events: Events, showRun: Bool) -> HTML {
        let rows = events.map { e -> HTML in
            let run: HTML = showRun ? "<td>\(e.runId.map { DashboardLayout.runLink($0) } ?? .empty)</td>" : .empty
            let detail: HTML = e.detail.map { fragment -> HTML in "<code class=\"wrap\">\(fragment.text)</code>" } ?? .empty
            return """
                <tr data-event="\(e.id)" data-type="\(e.type)"><td class="nowrap">\(DashboardLayout.timeTag(e.at))</td><td class="nowrap">\(e.type)</td>\
                <td class="wrap">\(e.actor)</td>\(run)<td class="wrap">\(e.step)</td><td>\(e.attempt.map { "\($0)" } ?? "")</td><td class="wrap">\(detail)</td></tr>
                """
        }
        guard !rows.isEmpty else { return "<p class=\"muted\">No events.</p>" }
        return """
            <div class="scroll"><table class="audit"><thead><tr><th>Time</th><th>Event</th><th>Actor</th>\(showRun ? "<th>Run</th>" as HTML : .empty)<th>Step</th><th>Attempt</th><th>Detail</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }
}
