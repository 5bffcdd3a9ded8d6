import Engine
import Foundation
import KajiMetrics
import KajiTesting
import Logging
import Server
import ServiceLifecycle
import Testing
import Worker

/// The engine's and the pool's metrics follow real activity: a real worker pool on PostgreSQL runs a known
/// mix of runs (successes, step retries, failures, a run retry, a sleep, an approval wait, a fan-out), and the
/// numbers are read back from its live `/metrics` over HTTP.
@Suite("Worker metrics", .timeLimit(.minutes(5)), .needsDatabase)
struct WorkerMetricsTests {
    /// An in-process pool recording into its own registry, and its metrics served on a free loopback port.
    struct MeteredPool: Sendable {
        let pool: PoolHandle
        let endpoint: Task<Void, any Error>
        let url: String

        static func start(_ db: TestDatabase, registry: WorkflowRegistry, concurrency: Int, leaseSeconds: Double = 30,
                          rescueGrace: Duration? = nil) async throws -> MeteredPool {
            let export = PrometheusExport(descriptions: WorkerMetrics.all)
            let configuration = WorkerConfiguration(concurrency: concurrency, leaseSeconds: leaseSeconds, pollInterval: .milliseconds(200),
                                                    rescueInterval: .milliseconds(300), drainTimeout: .seconds(5), inlineRetryLimit: .seconds(2),
                                                    rescueGrace: rescueGrace)
            let pool = WorkerPool(configuration: configuration, store: db.store, registry: registry, logger: db.logger,
                                  metrics: EngineMetrics(factory: export.factory))
            let handle = PoolHandle(pool: pool, task: Task { try await pool.run() })
            let (ports, port) = AsyncStream.makeStream(of: Int.self)
            let app = MetricsEndpoint.application(address: try MetricsListenAddress("127.0.0.1:0"), logger: db.logger,
                                                  render: { export.render() }) { bound in port.yield(bound) }
            let endpoint = Task { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else { throw KajiTestingError("the metrics endpoint did not start") }
            return MeteredPool(pool: handle, endpoint: endpoint, url: "http://127.0.0.1:\(bound)/metrics")
        }

        func stop() async throws {
            try await pool.stop()
            endpoint.cancel()
            _ = try? await endpoint.value
        }
    }

    @Test("runs, steps, retries, suspensions and slots are counted as they happen, with bounded labels")
    func countsFollowActivity() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let client = db.client(registry)
            let metered = try await MeteredPool.start(db, registry: registry, concurrency: 4)
            var ids: [UUID] = []
            // 5 runs of 2 steps that succeed at once; 3 whose one step fails twice first (6 step retries).
            ids += try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 2}"#, count: 5), actor: "test").map(\.id)
            ids += try await client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: #"{"steps": 1, "failFirstAttempts": 2}"#, count: 3), actor: "test").map(\.id)
            // 2 runs that fail for good (a non-retryable step error).
            ids += try await client.enqueueBatch(kind: FailingWorkflow.kind, inputs: Array(repeating: #"{"retryable": false, "attempts": 1}"#, count: 2), actor: "test").map(\.id)
            // 1 run retried as a whole once (its second step fails on the first run attempt), then succeeding.
            ids.append(try await client.enqueue(EnqueueRequest(kind: ResumeWorkflow.kind, input: #"{"tag": "m"}"#, actor: "test")).id)
            // 1 run that sleeps durably (one suspension, then a second execution).
            ids.append(try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "sleepMillis": 300}"#, actor: "test")).id)
            // 1 fan-out over node:0…node:3: one step family.
            ids.append(try await client.enqueue(EnqueueRequest(kind: FanOutWorkflow.kind, input: #"{"width": 4}"#, actor: "test")).id)
            // 1 run that waits for an approval and stays waiting.
            let approval = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, input: "{}", actor: "test")).id
            for id in ids { try await db.waitForFinish(id, timeout: .seconds(60)) }

            // The executor counts an execution just after recording it, and a resumed run's duration a moment
            // later: wait until the numbers are all there.
            var scrape = try await HTTP.scrape(metered.url)
            try await eventually("the counters reach the activity") {
                scrape = try await HTTP.scrape(metered.url)
                return scrape.value("kaji_runs_finished_total", ["kind": "diag.steps", "outcome": "succeeded"]) == 9
                    && scrape.value("kaji_run_suspensions_total", ["kind": ApprovalWorkflow.kind, "wait": "signal"]) == 1
                    && scrape.value("kaji_run_duration_seconds_count", ["kind": ResumeWorkflow.kind]) == 1
                    && scrape.value("kaji_run_duration_seconds_count", ["kind": "diag.steps"]) == 9
            }
            // Executions: diag 5 + 3 + 2 (the sleeper twice); failing 2; resume 2; fan-out 1; approval 1.
            #expect(scrape.value("kaji_runs_started_total", ["kind": "diag.steps"]) == 10)
            #expect(scrape.value("kaji_runs_finished_total", ["kind": "diag.steps", "outcome": "suspended"]) == 1)
            #expect(scrape.value("kaji_runs_finished_total", ["kind": FailingWorkflow.kind, "outcome": "failed"]) == 2)
            #expect(scrape.value("kaji_runs_finished_total", ["kind": ResumeWorkflow.kind, "outcome": "retrying"]) == 1)
            #expect(scrape.value("kaji_runs_finished_total", ["kind": ResumeWorkflow.kind, "outcome": "succeeded"]) == 1)
            #expect(scrape.value("kaji_runs_finished_total", ["kind": ApprovalWorkflow.kind, "outcome": "suspended"]) == 1)
            #expect(scrape.value("kaji_run_retries_total", ["kind": ResumeWorkflow.kind]) == 1)
            #expect(scrape.value("kaji_run_suspensions_total", ["kind": "diag.steps", "wait": "sleep"]) == 1)

            // Steps: attempts by family and outcome, retries by family.
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": "diag.steps", "family": "step-1", "outcome": "succeeded"]) == 9)
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": "diag.steps", "family": "step-1", "outcome": "failed"]) == 6)
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": "diag.steps", "family": "step-2", "outcome": "succeeded"]) == 5)
            #expect(scrape.value("kaji_step_retries_total", ["kind": "diag.steps", "family": "step-1"]) == 6)
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": FailingWorkflow.kind, "family": "breaks", "outcome": "failed"]) == 2)
            #expect(scrape.value("kaji_step_retries_total", ["kind": FailingWorkflow.kind]) == nil)
            #expect(scrape.value("kaji_step_duration_seconds_count", ["kind": FanOutWorkflow.kind, "family": "node", "outcome": "succeeded"]) == 4)
            #expect(scrape.series("kaji_step_duration_seconds_count").allSatisfy { !($0["family"] ?? "").contains(":") })

            // Runs that ended: durations of every one that ended (the approval run has not).
            #expect(scrape.value("kaji_run_duration_seconds_count", ["kind": FailingWorkflow.kind, "outcome": "failed"]) == 2)
            #expect(scrape.value("kaji_run_duration_seconds_count", ["kind": ApprovalWorkflow.kind]) == nil)
            // Every execution was claimed, and started after its claim.
            let executions = 10.0 + 2 + 2 + 1 + 1
            #expect(scrape.value("kaji_runs_claimed_total") == executions)
            #expect(scrape.value("kaji_claim_to_start_seconds_count") == executions)
            #expect((scrape.value("kaji_claim_duration_seconds_count") ?? 0) >= 1)
            // Idle now: every slot free.
            #expect(scrape.value("kaji_worker_slots", ["state": "busy"]) == 0)
            #expect(scrape.value("kaji_worker_slots", ["state": "free"]) == 4)
            #expect(scrape.value("kaji_leases_lost_total") == nil)

            // No run ids anywhere, and every family explains itself.
            for id in ids + [approval] { #expect(!scrape.text.lowercased().contains(id.uuidString.lowercased())) }
            for family in Set(scrape.samples.map { Self.family(of: $0.name) }) { #expect(scrape.hasHelp(family), "no HELP/TYPE for \(family)") }
            let check = try await Promtool.checkMetrics(scrape.text)
            #expect(check.status == 0, "promtool check metrics: \(check)")
            try await metered.stop()
        }
    }

    @Test("a run whose worker died is rescued and counted; a run taken over by another worker counts as a lost lease")
    func leasesLostAndRescued() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let client = db.client(registry)
            // A run claimed by a worker that never renews (it is gone): its lease runs out and this pool rescues it.
            let orphan = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1}"#, actor: "test"))
            let ghost = try await db.store.claimRuns(worker: "ghost", queues: ["default"], limit: 1, leaseSeconds: 0.2)
            #expect(ghost.map(\.id) == [orphan.id])
            let metered = try await MeteredPool.start(db, registry: registry, concurrency: 2, leaseSeconds: 6, rescueGrace: .milliseconds(300))
            try await db.waitForFinish(orphan.id)
            try await eventually("the rescue is counted") {
                try await HTTP.scrape(metered.url).value("kaji_runs_rescued_total") == 1
            }
            // A long step, then another owner takes the run (as a rescuer elsewhere would): the next renewal
            // finds it gone and the pool stops it.
            let long = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "stepMillis": 20000}"#, actor: "test"))
            // Its step is running (not only the run: a theft before the step starts is found by the fenced
            // step-start write instead of by a renewal, and counts no lost lease).
            try await eventually("the long run's step is running") {
                try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(long.id) AND state = 'running'") == 1
            }
            try await db.store.client.query("UPDATE runs SET epoch = epoch + 1, lease_owner = 'thief', claim_token = gen_random_uuid(), lease_expires_at = now() + interval '1 hour' WHERE id = \(long.id)",
                                            logger: db.logger)
            var scrape = try await HTTP.scrape(metered.url)
            try await eventually("the lost lease is counted and its slot is free again") {
                scrape = try await HTTP.scrape(metered.url)
                // Counted once, as taken over, or as not renewed when a renewal on a loaded machine was late for
                // real and the pool stopped the run by its own clock first.
                let lost = (scrape.value("kaji_leases_lost_total", ["reason": "taken_over"]) ?? 0) + (scrape.value("kaji_leases_lost_total", ["reason": "not_renewed"]) ?? 0)
                return lost == 1 && scrape.value("kaji_worker_slots", ["state": "busy"]) == 0
            }
            #expect(scrape.value("kaji_runs_finished_total", ["kind": "diag.steps", "outcome": "fenced"]) == 1)
            try await metered.stop()
        }
    }

    /// A histogram sample's family (`x_bucket`, `x_sum`, `x_count` → `x`).
    static func family(of sample: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where sample.hasSuffix(suffix) && !sample.hasSuffix("_total") {
            return String(sample.dropLast(suffix.count))
        }
        return sample
    }

    @Test("step families: no gN/ prefix, nothing after the first colon")
    func stepFamilies() {
        #expect(EngineMetrics.stepFamily("g2/create-server:prod-a-master-1") == "create-server")
        #expect(EngineMetrics.stepFamily("create-disk:prod-a-worker-2") == "create-disk")
        #expect(EngineMetrics.stepFamily("sleep:3") == "sleep")
        #expect(EngineMetrics.stepFamily("g12/undo:done") == "undo")
        #expect(EngineMetrics.stepFamily("approval") == "approval")
        #expect(EngineMetrics.stepFamily("gate/x") == "gate/x")
        #expect(EngineMetrics.stepFamily(":x") == "unnamed")
    }

    @Test("--metrics-listen accepts loopback only unless allowed")
    func listenAddresses() throws {
        #expect(try MetricsListenAddress("127.0.0.1:9464") == (try MetricsListenAddress("127.0.0.1:9464")))
        #expect(try MetricsListenAddress("127.3.4.5:0").host == "127.3.4.5")
        #expect(try MetricsListenAddress("[::1]:9464").host == "::1")
        #expect(try MetricsListenAddress("localhost:9464").port == 9464)
        for refused in ["0.0.0.0:9464", "10.0.0.1:9464", "[::]:9464", "example.com:9464", "128.0.0.1:1"] {
            #expect(throws: KajiError.self) { try MetricsListenAddress(refused) }
        }
        for malformed in ["127.0.0.1", "127.0.0.1:x", ":9464", "127.0.0.1:70000"] {
            #expect(throws: KajiError.self) { try MetricsListenAddress(malformed, allowNonLoopback: true) }
        }
        #expect(try MetricsListenAddress("0.0.0.0:9464", allowNonLoopback: true).host == "0.0.0.0")
    }
}
