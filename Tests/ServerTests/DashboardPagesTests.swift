import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

/// What the dashboard's pages show, read over real HTTP: the runs with their filters, the approvals first and
/// the cursor; a cluster's nodes, health over time, backups and schedules; the audit trail with its
/// verification; everything escaped.
@Suite("kaji serve: the dashboard's pages", .needsDatabase, .timeLimit(.minutes(3)))
struct DashboardPagesTests {
    @Test("runs: filters by state, kind, cluster and actor; runs waiting for approval first; older pages by the cursor; text from runs is escaped")
    func runsPage() async throws {
        try await ServeFixture.with(catalog: DashboardTests.registry.catalog) { fx in
            let viewer = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("vera", .viewer))
            // 60 runs by ci, 3 by a person on cluster prod-a, one waiting for an approval.
            _ = try await fx.client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1}"#, count: 60), actor: "token:ci")
            var mine: [UUID] = []
            for _ in 0..<3 {
                mine.append(try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1}"#, concurrencyKey: "cluster:prod-a", actor: "token:carol")).id)
            }
            let approval = try await fx.client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "token:alice")).id
            let pool = fx.db.startPool(DashboardTests.registry)
            defer { pool.pool.shutdown() }
            try await eventually("the approval run waits", timeout: .seconds(60)) { try await fx.client.runSummary(id: approval).state == .waiting }
            try await eventually("the others finish", timeout: .seconds(60)) {
                try await fx.client.runs(RunQuery(state: .succeeded, limit: 100)).count == 63
            }

            let first = try await viewer.get("/runs")
            #expect(first.status == 200)
            #expect(first.body.contains("Waiting for approval (1)"))
            let approvalRow = "data-run=\"\(approval.uuidString.lowercased())\""
            #expect(first.count(approvalRow) == 1, "shown once, in the approvals")
            #expect(first.count("<tr data-run=") == 1 + 49, "the approval, then the page of 50 less the approval")
            let older = try #require(PageReply.firstMatch(#"<a rel="next" href="([^"]+)""#, in: first.body)).replacingOccurrences(of: "&amp;", with: "&")
            #expect(older.hasPrefix("/runs?cursor="))
            let second = try await viewer.get(older)
            #expect(second.count("<tr data-run=") == 1 + 14, "the approval again, then the 14 oldest")
            #expect(!second.body.contains(#"rel="next""#))
            var seen = Set<String>()
            for page in [first, second] {
                for id in page.body.components(separatedBy: "<tr data-run=\"").dropFirst().map({ String($0.prefix(36)) }) { seen.insert(id) }
            }
            #expect(seen.count == 64, "every run once over the pages")

            let byActor = try await viewer.get("/runs?actor=token%3Acarol")
            #expect(byActor.count("<tr data-run=") == 3)
            #expect(!byActor.body.contains("Waiting for approval"))
            let byCluster = try await viewer.get("/runs?cluster=prod-a&state=succeeded")
            #expect(byCluster.count("<tr data-run=") == 3)
            #expect(Set(mine.map { $0.uuidString.lowercased() }).allSatisfy { byCluster.body.contains("data-run=\"\($0)\"") })
            #expect(byCluster.body.contains(#"<option value="prod-a" selected>"#) || byCluster.body.contains(#"<option value="prod-a" selected"#))
            let byKind = try await viewer.get("/runs?kind=test.approval")
            #expect(byKind.count("<tr data-run=") == 1 && byKind.body.contains("Waiting for approval (1)"))
            let failedOnly = try await viewer.get("/runs?state=failed")
            #expect(failedOnly.count("<tr data-run=") == 0 && failedOnly.body.contains("No run matches these filters."))
            let badState = try await viewer.get("/runs?state=sleeping")
            #expect(badState.status == 422 && badState.body.contains("state &#39;sleeping&#39; is not a run state"))
            let badCursor = try await viewer.get("/runs?cursor=nope")
            #expect(badCursor.status == 422 && badCursor.contentType == "text/html; charset=utf-8")

            // Text that runs carry is escaped wherever it is shown.
            let hostile = #"<script>alert("x")</script>"#
            let marked = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "waitSignal": "<img src=x onerror=alert(1)>"}"#,
                                                                    idempotencyKey: hostile, concurrencyKey: "team:<b>", actor: "token:" + hostile)).id
            let listed = try await viewer.get("/runs").body
            let page = try await viewer.get("/runs/\(marked.uuidString.lowercased())").body
            for body in [listed, page] {
                #expect(!body.contains("<script>alert") && !body.contains("<b>") && body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
            }
            #expect(!page.contains("<img src=x") && page.contains("&lt;img src=x onerror=alert(1)&gt;"))
            try await pool.stop()
        }
    }

    @Test("clusters: nodes with addresses, every readyz check over time, the last backup and the schedules; audit: the trail with audit verify")
    func clustersAndAudit() async throws {
        try await ServeFixture.with(catalog: .kaji) { fx in
            let viewer = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("vera", .viewer))
            let empty = try await viewer.get("/clusters")
            #expect(empty.status == 200 && empty.body.contains("No clusters in the inventory yet"))
            #expect(try await viewer.get("/clusters/nope").status == 404)

            let name = "dash-a"
            let spec = testClusterSpec(name: name, masters: 1, workers: 1)
            let nodes = [
                ClusterNode(name: "\(name)-master-1", role: .master, serverID: "113000000001", address: "192.168.100.11", sshHost: "127.0.0.1", sshPort: 22, sshUser: "root"),
                ClusterNode(name: "\(name)-worker-1", role: .worker, serverID: "113000000002", address: "192.168.100.12", sshHost: "127.0.0.1", sshPort: 22, sshUser: "root"),
            ]
            try await ClusterInventory(store: fx.db.store).upsert(ClusterRecord(
                name: name, zone: "is1a", spec: spec, state: "ready", switchID: "1", apiEndpoint: "https://192.168.100.10:6443", nodes: nodes,
                ownerTeam: "payments", lastRunID: nil, createdAt: Date(), updatedAt: Date()))
            // Two health results as a worker records them: all well, then etcd failing.
            for passed in [true, false] {
                var claim: ClusterHealthClaim?
                try await eventually("the check is due") {
                    claim = try await fx.client.claimHealthChecks([ClusterHealthCandidate(cluster: name, interval: .milliseconds(100))], worker: "worker:w1", lease: .seconds(5)).first
                    return claim != nil
                }
                let checks = [ClusterHealthCheck(name: "ping", ok: true, detail: "ok"),
                              ClusterHealthCheck(name: "etcd", ok: passed, detail: passed ? "ok" : "failed: reason withheld")]
                let result = ClusterHealthResult(cluster: name, checkedBy: "worker:w1", up: true, passed: passed, failure: nil,
                                                 reason: passed ? nil : "readyz check failed: etcd", httpStatus: passed ? 200 : 500, durationSeconds: 0.02, checks: checks)
                #expect(try await fx.client.recordHealthCheck(result, claim: try #require(claim)))
            }
            let schedule = try await fx.client.addSchedule(ScheduleRequest(name: "backup:\(name)", cron: "0 3 * * *", kind: ClusterKinds.backup,
                                                                          input: #"{"cluster": "\#(name)"}"#, concurrencyKey: "cluster:\(name)", actor: "test"))
            let backup = try await fx.client.enqueue(EnqueueRequest(kind: ClusterKinds.backup, input: #"{"cluster": "\#(name)"}"#, actor: "schedule:backup:\(name)")).id

            let list = try await viewer.get("/clusters").body
            #expect(list.contains("data-cluster=\"\(name)\""))
            #expect(list.contains("failing: etcd"))
            #expect(list.contains("data-schedule=\"\(schedule.name)\""))
            #expect(list.contains("href=\"/runs/\(backup.uuidString.lowercased())\""), "the last backup run")

            let page = try await viewer.get("/clusters/\(name)")
            #expect(page.status == 200)
            let body = page.body
            for node in nodes {
                #expect(body.contains("data-node=\"\(node.name)\"") && body.contains("<code>\(node.address)</code>"), "\(node.name)")
            }
            #expect(body.contains("https://192.168.100.10:6443"))
            // The health over time: one row per check, one cell per result, oldest first.
            #expect(body.contains(#"<svg class="timeline health""#))
            #expect(page.count(#"class="cell" data-check="etcd""#) == 2 && page.count(#"class="cell" data-check="ping""#) == 2)
            let etcd = body.components(separatedBy: #"data-check="etcd" data-ok=""#).dropFirst().map { String($0.prefix { $0 != "\"" }) }
            #expect(etcd == ["true", "false"], "\(etcd)")
            #expect(body.contains("up → failing: etcd"), "the last change")
            #expect(body.contains("data-schedule=\"backup:\(name)\""))
            #expect(body.contains("Latest backup run") && body.contains("href=\"/runs/\(backup.uuidString.lowercased())\""))

            // The audit trail, with the result of audit verify.
            let audit = try await viewer.get("/audit")
            #expect(audit.status == 200)
            #expect(audit.body.contains(#"id="audit-verify" data-ok="true""#))
            let head = try #require(PageReply.firstMatch(#"Head: <code class="wrap">([0-9]+:[0-9a-f]{64})</code>"#, in: audit.body))
            #expect(audit.body.contains("data-type=\"schedule.added\""))
            let verification = try await fx.client.verifyAudit()
            #expect(verification.ok)
            #expect(head.split(separator: ":").first.flatMap { Int64($0) }.map { $0 >= 1 && $0 <= verification.headSeq } == true, "\(head)")
            let anchored = try await viewer.get("/audit?expectHead=\(head.replacingOccurrences(of: ":", with: "%3A"))")
            #expect(anchored.body.contains(#"data-ok="true""#) && anchored.body.contains("it still holds the expected head"))
            let seq = try #require(head.split(separator: ":").first)
            let forged = try await viewer.get("/audit?expectHead=\(seq)%3A\(String(repeating: "0", count: 64))")
            #expect(forged.body.contains(#"id="audit-verify" data-ok="false""#), "a head that is not the chain's")
            let byType = try await viewer.get("/audit?type=schedule.added")
            #expect(byType.count("<tr data-event=") == 1)
            let badRun = try await viewer.get("/audit?run=x")
            #expect(badRun.status == 422)
        }
    }
}
