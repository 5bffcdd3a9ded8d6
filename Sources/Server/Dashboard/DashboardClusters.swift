import Engine
import Foundation
import Hummingbird
import Workflows

/// `GET /clusters`: every cluster of the inventory with its state, API health and last backup, and every
/// schedule. `GET /clusters/{name}`: one cluster: its nodes with their addresses, the health of every
/// readyz check over time, its backups, its schedules and its recent runs.
extension Dashboard {
    /// Health results drawn on a cluster's page.
    static let healthHistoryLength = 120

    func clustersPage(_ call: DashboardCall) async throws -> Response {
        let clusters = try await server.clusters.clusters()
        let health = Dictionary(try await client.clusterHealth().map { ($0.cluster, $0) }, uniquingKeysWith: { first, _ in first })
        var rows: [HTML] = []
        for cluster in clusters {
            let backup = try await client.runPage(RunQuery(kind: ClusterKinds.backup, concurrencyKey: "cluster:\(cluster.name)", limit: 1)).items.first
            rows.append("""
                <tr data-cluster="\(cluster.name)"><td><a href="/clusters/\(DashboardForm.encode(cluster.name))">\(cluster.name)</a></td>\
                <td>\(DashboardLayout.badge(cluster.state, cluster.state == "ready" ? "ok" : nil))</td><td>\(cluster.zone)</td>\
                <td>\(cluster.nodes.count)</td><td class="wrap">\(cluster.apiEndpoint ?? "—")</td>\
                <td>\(healthBadge(health[cluster.name]))</td><td>\(backupCell(backup))</td></tr>
                """)
        }
        let table: HTML = clusters.isEmpty ? "<p class=\"muted\">No clusters in the inventory yet (kaji apply adds one when its provisioning ends).</p>" : """
            <div class="scroll"><table class="clusters">
            <thead><tr><th>Cluster</th><th>State</th><th>Zone</th><th>Nodes</th><th>API endpoint</th><th>API health</th><th>Last backup</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
        let schedules = try await client.schedules()
        let body: HTML = """
            <h1>Clusters</h1>
            \(table)
            <h2>Schedules</h2>
            \(scheduleTable(schedules))
            """
        return Self.html(.ok, DashboardLayout.page(title: "Clusters", call: call, body: body), nonce: call.nonce)
    }

    func clusterPage(_ call: DashboardCall) async throws -> Response {
        let name = call.path("name")
        let cluster = try await server.clusters.cluster(named: name)
        let health = try await client.clusterHealth(cluster: name)
        let history = try await client.clusterHealthHistory(cluster: name, limit: Self.healthHistoryLength)
        let key = "cluster:\(name)"
        let backups = try await client.runPage(RunQuery(kind: ClusterKinds.backup, concurrencyKey: key, limit: 10)).items
        var lastGood: (RunSummary, BackupOutput?)?
        if let good = backups.first(where: { $0.state == .succeeded }) {
            let output = try await client.run(id: good.id).output.flatMap { try? KajiJSON.decode(BackupOutput.self, from: $0) }
            lastGood = (good, output)
        }
        let schedules = try await client.schedules().filter { $0.concurrencyKey == key }
        let runs = try await client.runPage(RunQuery(concurrencyKey: key, limit: 10)).items

        let nodes = cluster.nodes.map { node -> HTML in
            "<tr data-node=\"\(node.name)\"><td>\(node.name)</td><td>\(node.role.rawValue)</td><td><code>\(node.address)</code></td><td class=\"wrap\"><code>\(node.serverID)</code></td></tr>"
        }
        let nodeTable: HTML = cluster.nodes.isEmpty ? "<p class=\"muted\">No nodes recorded.</p>" : """
            <div class="scroll"><table class="nodes"><thead><tr><th>Node</th><th>Role</th><th>Address</th><th>Server</th></tr></thead><tbody>\(nodes)</tbody></table></div>
            """
        let chart = DashboardHealthChart(history: history)
        let latestChecks: HTML = {
            guard let latest = health?.latest, !latest.checks.isEmpty else { return .empty }
            let items = latest.checks.map { check -> HTML in
                "<tr data-check=\"\(check.name)\"><td class=\"wrap\">\(check.name)</td><td>\(DashboardLayout.badge(check.ok ? "ok" : "failed", check.ok ? "ok" : "bad"))</td><td class=\"wrap\">\(check.detail)</td></tr>"
            }
            return """
                <details><summary>Latest readyz checks (\(latest.checks.filter(\.ok).count)/\(latest.checks.count) ok)</summary>
                <div class="scroll"><table class="checks"><thead><tr><th>Check</th><th>Result</th><th>Detail</th></tr></thead><tbody>\(items)</tbody></table></div></details>
                """
        }()
        let healthFacts: HTML = {
            guard let health else { return "<p class=\"muted\">Not checked yet.</p>" }
            let change = health.previousStatus.map { "\($0) → \(health.status)" } ?? "\(health.status) since the first check"
            var rows: [HTML] = [
                "<dt>Status</dt><dd>\(healthBadge(health)) \(health.latest.reason)</dd>",
                "<dt>Last check</dt><dd>\(DashboardLayout.timeTag(health.latest.checkedAt)) by \(health.latest.checkedBy), \(DashboardLayout.duration(health.latest.durationSeconds))</dd>",
                "<dt>Last change</dt><dd>\(DashboardLayout.timeTag(health.statusSince)): \(change)</dd>",
            ]
            rows.append("<dt>Next check</dt><dd>\(DashboardLayout.timeTag(health.nextCheckAt))</dd>")
            return "<dl class=\"facts\">\(rows)</dl>"
        }()
        let backupFacts: HTML = {
            var rows: [HTML] = []
            if let latest = backups.first {
                rows.append("<dt>Latest backup run</dt><dd>\(DashboardLayout.runLink(latest.id)) \(DashboardLayout.badge(latest.state.rawValue)) \(DashboardLayout.timeTag(latest.finishedAt ?? latest.createdAt))</dd>")
            }
            if let (run, output) = lastGood {
                let what: HTML = output.map { o -> HTML in
                    "<code>\(o.backup)</code> \(o.phase.description), \(o.itemsBackedUp.map { "\($0)" } ?? "?")/\(o.totalItems.map { "\($0)" } ?? "?") items, \(o.errors) errors, \(o.warnings) warnings"
                } ?? .empty
                rows.append("<dt>Last good backup</dt><dd>\(DashboardLayout.timeTag(run.finishedAt)) \(what) (\(DashboardLayout.runLink(run.id)))</dd>")
            }
            if let velero = cluster.spec.velero {
                rows.append("<dt>Velero</dt><dd>storage location \(velero.storageLocation)\(velero.schedule.map { ", schedule \($0)" } ?? "")\(velero.ttl.map { ", TTL \($0)" } ?? "")</dd>")
            }
            return rows.isEmpty ? "<p class=\"muted\">No backup yet.</p>" : "<dl class=\"facts\">\(rows)</dl>"
        }()
        let facts: HTML = """
            <dl class="facts">
            <dt>State</dt><dd>\(DashboardLayout.badge(cluster.state, cluster.state == "ready" ? "ok" : nil))</dd>
            <dt>Zone</dt><dd>\(cluster.zone)</dd>
            <dt>Kubernetes</dt><dd>\(cluster.spec.kubernetesVersion)</dd>
            <dt>API endpoint</dt><dd>\(cluster.apiEndpoint ?? "—")</dd>
            <dt>Network</dt><dd>\(cluster.spec.network.subnet), VIP \(cluster.spec.network.controlPlaneVIP)</dd>
            <dt>Owners</dt><dd>\(cluster.ownerTeam ?? cluster.spec.owners.team)</dd>
            <dt>Updated</dt><dd>\(DashboardLayout.timeTag(cluster.updatedAt))\(cluster.lastRunID.map { id -> HTML in " by run \(DashboardLayout.runLink(id))" } ?? .empty)</dd>
            </dl>
            """
        let runList: HTML = runs.isEmpty ? "<p class=\"muted\">No runs.</p>" : runTable(runs, approval: false)
        let body: HTML = """
            <h1>Cluster \(cluster.name)</h1>
            \(facts)
            <h2>Nodes (\(cluster.nodes.count))</h2>
            \(nodeTable)
            <h2>API health</h2>
            \(healthFacts)
            <div class="scroll">\(chart.svg)</div>
            \(history.isEmpty ? .empty : DashboardHealthChart.legend)
            \(latestChecks)
            <h2>Backups</h2>
            \(backupFacts)
            <h2>Schedules</h2>
            \(scheduleTable(schedules))
            <h2>Recent runs</h2>
            \(runList)
            <p><a href="\(DashboardForm.url("/runs", [("cluster", cluster.name)]))">All runs of \(cluster.name) →</a></p>
            """
        return Self.html(.ok, DashboardLayout.page(title: "Cluster \(cluster.name)", call: call, body: body), nonce: call.nonce)
    }

    func healthBadge(_ health: ClusterHealth?) -> HTML {
        guard let health else { return "<span class=\"muted\">not checked</span>" }
        let tone = health.latest.passed ? "ok" : health.latest.up ? "waiting" : "bad"
        return "<span title=\"since \(DashboardLayout.time(health.statusSince))\">\(DashboardLayout.badge(health.status, tone))</span>"
    }

    func backupCell(_ run: RunSummary?) -> HTML {
        guard let run else { return "<span class=\"muted\">none</span>" }
        return "\(DashboardLayout.badge(run.state.rawValue)) \(DashboardLayout.timeTag(run.finishedAt ?? run.createdAt)) \(DashboardLayout.runLink(run.id))"
    }

    func scheduleTable(_ schedules: [Schedule]) -> HTML {
        guard !schedules.isEmpty else { return "<p class=\"muted\">No schedules.</p>" }
        let rows = schedules.map { s -> HTML in
            """
            <tr data-schedule="\(s.name)"><td class="wrap">\(s.name)</td><td><code>\(s.cron)</code> \(s.timezone)</td><td>\(s.kind)</td>\
            <td class="wrap">\(DashboardLayout.keyLink(s.concurrencyKey))</td><td>\(s.paused ? DashboardLayout.badge("paused", "cancelled") : DashboardLayout.timeTag(s.nextRunAt))</td>\
            <td>\(DashboardLayout.timeTag(s.lastTickAt)) \(s.lastRunId.map { DashboardLayout.runLink($0) } ?? .empty)</td></tr>
            """
        }
        return """
            <div class="scroll"><table class="schedules"><thead><tr><th>Schedule</th><th>Cron</th><th>Kind</th><th>Cluster / key</th><th>Next tick</th><th>Last tick</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }
}
