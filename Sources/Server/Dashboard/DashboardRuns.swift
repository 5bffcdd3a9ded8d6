import Engine
import Foundation
import Hummingbird
import Workflows

/// `GET /runs`: the runs, newest first, filtered by state, kind, cluster (concurrency key) and actor; the
/// runs waiting for an approval come first; older pages by the list's cursor.
extension Dashboard {
    /// Runs per page.
    static let runsPerPage = 50

    /// The concurrency key a `cluster` filter means: a cluster's name is `cluster:NAME`; a value with a
    /// colon is a key as it is.
    static func concurrencyKey(cluster: String?) -> String? {
        guard let cluster else { return nil }
        return cluster.contains(":") ? cluster : "cluster:\(cluster)"
    }

    func runsPage(_ call: DashboardCall) async throws -> Response {
        let state = try call.query.text("state").map { try RunState.parse($0) }
        let kind = call.query.text("kind"), cluster = call.query.text("cluster"), actor = call.query.text("actor")
        let cursor = call.query.text("cursor")
        let query = RunQuery(state: state, kind: kind, concurrencyKey: Self.concurrencyKey(cluster: cluster), actor: actor, cursor: cursor,
                             limit: Self.runsPerPage)
        let page = try await client.runPage(query)
        // Waiting for an approval: on every page, above the others (and not repeated below).
        let awaiting = try await client.runsAwaitingApproval(RunQuery(state: state, kind: kind, concurrencyKey: query.concurrencyKey, actor: actor, limit: 100))
        let shown = Set(awaiting.map(\.id))
        let others = page.items.filter { !shown.contains($0.id) }
        let clusterNames = ((try? await server.clusters.clusters()) ?? []).map(\.name)

        let filters = filterForm(state: state, kind: kind, cluster: cluster, actor: actor, clusters: clusterNames)
        let approvals: HTML = awaiting.isEmpty ? .empty : """
            <h2 id="awaiting">Waiting for approval (\(awaiting.count))</h2>
            \(runTable(awaiting, approval: true))
            """
        let filtered = state != nil || kind != nil || cluster != nil || actor != nil
        let list: HTML = others.isEmpty && page.items.isEmpty
            ? "<p class=\"muted\">\(cursor == nil ? (filtered ? "No run matches these filters." : "No runs yet.") : "No older runs.")</p>"
            : runTable(others, approval: false)
        let older: HTML = page.nextCursor.map { next -> HTML in
            let url = DashboardForm.url("/runs", [("state", state?.rawValue), ("kind", kind), ("cluster", cluster), ("actor", actor), ("cursor", next)])
            return "<p class=\"pager\"><a rel=\"next\" href=\"\(url)\">Older runs →</a></p>"
        } ?? .empty
        let newest: HTML = cursor == nil ? .empty : """
            <p class="pager"><a href="\(DashboardForm.url("/runs", [("state", state?.rawValue), ("kind", kind), ("cluster", cluster), ("actor", actor)]))">← Newest runs</a></p>
            """
        let body: HTML = """
            <h1>Runs</h1>
            \(filters)
            \(approvals)
            <h2>\(cursor == nil ? "Newest first" : "Older runs")</h2>
            \(newest)
            \(list)
            \(older)
            """
        return Self.html(.ok, DashboardLayout.page(title: "Runs", call: call, body: body), nonce: call.nonce)
    }

    func filterForm(state: RunState?, kind: String?, cluster: String?, actor: String?, clusters: [String]) -> HTML {
        func option(_ value: String, _ label: String, selected: Bool) -> HTML {
            "<option value=\"\(value)\"\(selected ? " selected" : "")>\(label)</option>"
        }
        let states = [option("", "any", selected: state == nil)] + RunState.allCases.map { option($0.rawValue, $0.rawValue, selected: $0 == state) }
        var kinds = client.catalog.kinds
        if let kind, !kinds.contains(kind) { kinds.append(kind) }
        let kindOptions = [option("", "any", selected: kind == nil)] + kinds.map { option($0, $0, selected: $0 == kind) }
        var names = clusters
        if let cluster, !names.contains(cluster) { names.append(cluster) }
        let clusterOptions = [option("", "any", selected: cluster == nil)] + names.map { option($0, $0, selected: $0 == cluster) }
        return """
            <form method="get" action="/runs" class="filters">
            <label>State <select name="state">\(states)</select></label>
            <label>Kind <select name="kind">\(kindOptions)</select></label>
            <label>Cluster <select name="cluster">\(clusterOptions)</select></label>
            <label>Actor <input name="actor" value="\(actor)" placeholder="token:alice" size="16"></label>
            <button type="submit">Filter</button>
            <a href="/runs">Clear</a>
            </form>
            """
    }

    func runTable(_ runs: [RunSummary], approval: Bool) -> HTML {
        let rows = runs.map { run -> HTML in
            let when = run.finishedAt ?? run.startedAt ?? run.createdAt
            let took = run.startedAt == nil ? "" : DashboardLayout.duration(from: run.startedAt, to: run.finishedAt)
            let tone = approval ? "waiting" : run.state.rawValue
            return """
                <tr data-run="\(run.id.uuidString.lowercased())" data-state="\(run.state.rawValue)">\
                <td>\(DashboardLayout.badge(approval ? "awaiting approval" : run.state.rawValue, tone))</td>\
                <td class="wrap">\(run.kind)</td><td>\(DashboardLayout.runLink(run.id))</td>\
                <td class="wrap">\(DashboardLayout.keyLink(run.concurrencyKey))</td><td class="wrap">\(run.actor)</td>\
                <td class="nowrap">\(DashboardLayout.timeTag(when))</td><td class="nowrap">\(took)</td>\
                <td>\(run.attempt)/\(run.maxAttempts)</td></tr>
                """
        }
        return """
            <div class="scroll"><table class="runs">
            <thead><tr><th>State</th><th>Kind</th><th>Run</th><th>Cluster / key</th><th>Requested by</th><th>Last change</th><th>Took</th><th>Attempt</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }
}
