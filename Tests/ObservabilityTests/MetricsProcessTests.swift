import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing
import Worker

/// `/metrics` of real `kaji worker --metrics-listen` and `kaji serve` processes, read over HTTP and checked
/// with `promtool check metrics`.
@Suite("Metrics processes", .timeLimit(.minutes(5)), .needsDatabase)
struct MetricsProcessTests {
    @Test("kaji worker --metrics-listen serves its counters; promtool check metrics passes")
    func workerProcess() async throws {
        try await TestDatabase.with { db in
            let worker = try KajiProcess(["worker", "--concurrency", "3", "--metrics-listen", "127.0.0.1:0", "--id", "metered"] + db.cliArguments)
            let url = try await worker.line(startingWith: "kaji worker metrics on ")
            #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/metrics"))
            let client = db.client(testRegistry())
            let ok = try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 3}"#, count: 4), actor: "test")
            let retried = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "failFirstAttempts": 1}"#, actor: "test"))
            for id in ok.map(\.id) + [retried.id] { try await db.waitForFinish(id) }
            var scrape = try await HTTP.scrape(url)
            try await eventually("the worker counts 5 successes") {
                scrape = try await HTTP.scrape(url)
                return scrape.value("kaji_runs_finished_total", ["kind": "diag.steps", "outcome": "succeeded"]) == 5
            }
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": "diag.steps", "family": "step-3", "outcome": "succeeded"]) == 4)
            #expect(scrape.value("kaji_step_retries_total", ["kind": "diag.steps", "family": "step-1"]) == 1)
            #expect(scrape.value("kaji_worker_slots", ["state": "free"]) == 3)
            let check = try await Promtool.checkMetrics(scrape.text)
            #expect(check.status == 0, "promtool check metrics: \(check)")
            // Anything but /metrics is not found.
            #expect(try await HTTP.get(url.replacingOccurrences(of: "/metrics", with: "/other")).status == 404)
            let stopped = try await worker.terminate(timeout: .seconds(30))
            #expect(stopped.status == 0, "\(stopped)")
        }
    }

    @Test("kaji worker refuses a metrics address beyond loopback, naming the option")
    func workerRefusesRemote() async throws {
        let result = try await KajiProcess.run(["worker", "--metrics-listen", "0.0.0.0:9464", "--database-url", "postgres://nobody@127.0.0.1:1/none"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("--metrics-listen") && result.stderr.contains("loopback"), "\(result.stderr)")
        let orphan = try await KajiProcess.run(["worker", "--metrics-allow-remote", "--database-url", "postgres://nobody@127.0.0.1:1/none"])
        #expect(orphan.status == 2 && orphan.stderr.contains("--metrics-listen"), "\(orphan)")
    }

    @Test("kaji serve /metrics: queue depth and due age, waits, approvals, workers, backup freshness, HTTP requests; promtool check metrics passes")
    func serveProcess() async throws {
        try await TestDatabase.with { db in
            let serve = try KajiProcess(["serve", "--listen", "127.0.0.1:0"] + db.cliArguments)
            let base = try await serve.line(startingWith: "kaji serve listening on ")
            let client = db.client(testRegistry())
            // Queue "q1": 3 runs due 10 minutes ago and 2 due in an hour; no worker claims q1.
            let past = Date().addingTimeInterval(-600), future = Date().addingTimeInterval(3600)
            _ = try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: "{}", count: 3), queue: "q1", runAt: past, actor: "test")
            _ = try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: "{}", count: 2), queue: "q1", runAt: future, actor: "test")
            // A worker (in process) that takes an approval run to its wait, and a poll run to its next poll.
            let pool = db.startPool(testRegistry(), concurrency: 2, id: "pool-1")
            let approval = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, input: "{}", actor: "test"))
            let poll = try await client.enqueue(EnqueueRequest(kind: PollWorkflow.kind, input: #"{"target": 0, "everyMillis": 600000, "timeoutMillis": 3600000}"#, actor: "test"))
            try await eventually("both runs wait") {
                let first = try await db.store.run(id: approval.id)?.state, second = try await db.store.run(id: poll.id)?.state
                return first == .waiting && second == .waiting
            }
            // A ready cluster created two days ago, never backed up.
            let created = Date().addingTimeInterval(-2 * 86_400)
            try await db.store.client.query("""
                INSERT INTO clusters (name, zone, spec, state, created_at) VALUES ('c1', 'tk1v', '{}'::jsonb, 'ready', \(created))
                """, logger: db.logger)

            var scrape = try await HTTP.scrape(base + "/metrics")
            try await eventually("serve sees the approval wait and the worker") {
                scrape = try await HTTP.scrape(base + "/metrics")
                return scrape.value("kaji_approvals_waiting", ["kind": ApprovalWorkflow.kind]) == 1
                    && scrape.value("kaji_workers", ["status": "active"]) == 1
            }
            #expect(scrape.value("kaji_database_up") == 1)
            #expect(scrape.value("kaji_queue_runs", ["queue": "q1", "state": "pending"]) == 5)
            #expect(scrape.value("kaji_queue_due_runs", ["queue": "q1", "state": "pending"]) == 3)
            #expect((scrape.value("kaji_queue_oldest_due_age_seconds", ["queue": "q1", "state": "pending"]) ?? 0) >= 600)
            #expect(scrape.value("kaji_queue_runs", ["queue": "q1", "state": "running"]) == 0)
            #expect(scrape.value("kaji_queue_runs", ["queue": "default", "state": "waiting"]) == 2)
            #expect(scrape.value("kaji_runs_waiting", ["queue": "default", "wait": "signal"]) == 1)
            #expect(scrape.value("kaji_runs_waiting", ["queue": "default", "wait": "poll"]) == 1)
            #expect((scrape.value("kaji_approval_oldest_wait_seconds", ["kind": ApprovalWorkflow.kind]) ?? -1) >= 0)
            let heartbeat = scrape.value("kaji_worker_last_heartbeat_timestamp_seconds", ["worker": "pool-1"]) ?? 0
            #expect(abs(heartbeat - Date().timeIntervalSince1970) < 120)
            #expect(abs((scrape.value("kaji_cluster_last_backup_success_timestamp_seconds", ["cluster": "c1"]) ?? 0) - created.timeIntervalSince1970) < 2)
            // The clusters' API health families are declared (their samples are tested in HealthCheckTests).
            #expect(scrape.text.contains("# TYPE kaji_cluster_apiserver_up gauge\n"))
            #expect(scrape.text.contains("# TYPE kaji_cluster_readyz_check_ok gauge\n"))

            // Its own HTTP requests, by route pattern and status.
            _ = try await HTTP.get(base + "/api/v1/runs")  // no token: 401
            scrape = try await HTTP.scrape(base + "/metrics")
            #expect((scrape.value("kaji_http_requests_total", ["method": "GET", "route": "/metrics", "status": "200"]) ?? 0) >= 2)
            #expect(scrape.value("kaji_http_requests_total", ["method": "GET", "status": "401"]) == 1)
            #expect((scrape.value("kaji_http_request_duration_seconds_count", ["method": "GET", "route": "/metrics"]) ?? 0) >= 2)

            let check = try await Promtool.checkMetrics(scrape.text)
            #expect(check.status == 0, "promtool check metrics: \(check)")

            // The approval granted: the gauge drops to 0 series.
            _ = try await client.approve(runID: approval.id, sender: "someone-else")
            try await eventually("the approval wait is gone from /metrics") {
                scrape = try await HTTP.scrape(base + "/metrics")
                return scrape.value("kaji_approvals_waiting", ["kind": ApprovalWorkflow.kind]) == nil
            }
            try await pool.stop()
            _ = try await serve.terminate(timeout: .seconds(30))
        }
    }
}
