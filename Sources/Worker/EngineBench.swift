import Engine
import Foundation
import KajiMetrics
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// `kaji bench`: the engine measured on a fresh schema of its own, with an in-process worker pool. It lives
/// beside the pool because it measures the store itself (claims on an empty queue, a synthetic finished
/// history), which no client of the engine may reach; the CLI only parses options and prints the figures.
public struct EngineBench: Sendable {
    /// The database to measure on; a fresh schema is created for each bench and dropped after.
    public var config: DatabaseConfig
    /// Runs executed at once by the in-process worker pool.
    public var concurrency: Int
    /// Commit ceiling from pg-baseline.sh (commits/s); adds `*_vs_baseline` figures.
    public var baseline: Double?
    /// Keep the bench schema afterwards.
    public var keepSchema: Bool
    public var logger: Logger
    /// Whether the pool records its metrics into a Prometheus registry, as `kaji worker --metrics-listen`
    /// does (default: on, unless `KAJI_BENCH_METRICS=0`), so that the figures include their cost.
    public var recordsMetrics: Bool = ProcessInfo.processInfo.environment["KAJI_BENCH_METRICS"] != "0"

    public init(config: DatabaseConfig, concurrency: Int, baseline: Double?, keepSchema: Bool, logger: Logger) {
        var config = config
        config.schema = "kaji_bench_\(UInt32.random(in: 0...UInt32.max))"
        config.maxConnections = concurrency + 6
        self.config = config
        self.concurrency = concurrency
        self.baseline = baseline
        self.keepSchema = keepSchema
        self.logger = logger
    }

    /// Creates the schema, runs `body` with a connected store, drops the schema.
    func run<T: Sendable>(_ body: @Sendable (RunStore) async throws -> T) async throws -> T {
        let migrator = Migrator(config: config, logger: logger)
        try await migrator.migrate()
        do {
            let result = try await withStore(body)
            if !keepSchema { try await migrator.dropSchema() }
            return result
        } catch {
            if !keepSchema { try? await migrator.dropSchema() }
            throw error
        }
    }

    private func withStore<T: Sendable>(_ body: @Sendable (RunStore) async throws -> T) async throws -> T {
        try await config.checkReachable(logger: logger)
        var logger = logger
        logger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let store = RunStore(client: client, config: config, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            do {
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Database settings that decide the figures (printed with them).
    func settings(_ store: RunStore) async throws -> String {
        try await store.databaseSettings(["fsync", "synchronous_commit"])
    }

    /// Enqueues `jobs` no-op runs in batches, then drains them: enqueue_per_s, drain_per_s, empty_claim_ms.
    public func queue(jobs: Int, history: Int) async throws -> [String: JSONValue] {
        guard jobs > 0 else { throw KajiError(.invalidArgument, "jobs must be positive", field: "jobs") }
        guard (0...10_000_000).contains(history) else { throw KajiError(.invalidArgument, "history must be 0...10000000", field: "history") }
        let concurrency = self.concurrency, baseline = self.baseline, logger = self.logger
        return try await run { store in
        var registry = WorkflowRegistry()
        registry.register(NoopWorkflow())
        let client = KajiClient(store: store, catalog: registry.catalog)
        if history > 0 { try await store.insertFinishedHistory(count: history, kind: NoopWorkflow.kind) }
        let emptyClaimMs = try await store.measureEmptyClaim()
        let clock = ContinuousClock()
        let start = clock.now
        var left = jobs
        while left > 0 {
            let n = min(left, 5000)
            _ = try await client.enqueueBatch(kind: NoopWorkflow.kind, inputs: Array(repeating: "{}", count: n), actor: "bench")
            left -= n
        }
        let enqueueSeconds = (clock.now - start).seconds
        let countdown = Countdown(jobs)
        let drainSeconds = try await drainWithPool(store: store, registry: registry, concurrency: concurrency, countdown: countdown, metrics: self.metrics(), logger: logger)
        var out: [String: JSONValue] = [
            "bench": .string("queue"), "jobs": .number(Double(jobs)), "concurrency": .number(Double(concurrency)),
            "enqueue_per_s": .number(round2(Double(jobs) / enqueueSeconds)),
            "drain_per_s": .number(round2(Double(jobs) / drainSeconds)),
            "failed": .number(Double(countdown.failures)),
            "history": .number(Double(history)),
            "empty_claim_ms": .number((emptyClaimMs * 1000).rounded() / 1000),
            "settings": .string(try await self.settings(store)),
            "rss_mb": .number(round2(residentMegabytes())),
            "metrics": .bool(self.recordsMetrics),
        ]
        if let baseline, baseline > 0 {
            out["baseline_commits_per_s"] = .number(baseline)
            out["drain_vs_baseline"] = .number(round2(Double(jobs) / drainSeconds / baseline))
        }
        return out
        }
    }

    /// Runs `workflows` workflows of `steps` checkpointed steps: workflows_per_s, steps_per_s.
    public func workflow(workflows: Int, steps: Int) async throws -> [String: JSONValue] {
        guard workflows > 0 else { throw KajiError(.invalidArgument, "workflows must be positive", field: "workflows") }
        guard steps > 0 else { throw KajiError(.invalidArgument, "steps must be positive", field: "steps") }
        let concurrency = self.concurrency, baseline = self.baseline, logger = self.logger
        return try await run { store in
        var registry = WorkflowRegistry()
        registry.register(DiagWorkflow(logPath: nil))
        let client = KajiClient(store: store, catalog: registry.catalog)
        let input = "{\"steps\": \(steps)}"
        var left = workflows
        while left > 0 {
            let n = min(left, 5000)
            _ = try await client.enqueueBatch(kind: DiagWorkflow.kind, inputs: Array(repeating: input, count: n), actor: "bench")
            left -= n
        }
        let countdown = Countdown(workflows)
        let seconds = try await drainWithPool(store: store, registry: registry, concurrency: concurrency, countdown: countdown, metrics: self.metrics(), logger: logger)
        let stepsPerSecond = Double(workflows * steps) / seconds
        var out: [String: JSONValue] = [
            "bench": .string("workflow"), "workflows": .number(Double(workflows)), "steps": .number(Double(steps)),
            "concurrency": .number(Double(concurrency)),
            "workflows_per_s": .number(round2(Double(workflows) / seconds)),
            "steps_per_s": .number(round2(stepsPerSecond)),
            "failed": .number(Double(countdown.failures)),
            "settings": .string(try await self.settings(store)),
            "metrics": .bool(self.recordsMetrics),
        ]
        if let baseline, baseline > 0 {
            out["baseline_commits_per_s"] = .number(baseline)
            out["steps_vs_baseline"] = .number(round2(stepsPerSecond / baseline))
        }
        return out
        }
    }

    /// Enqueues `jobs` runs one at a time at `rate` per second: pickup latency from the enqueue call to
    /// the first step's body (p50_ms, p90_ms, p99_ms, max_ms).
    public func latency(jobs: Int, rate: Double) async throws -> [String: JSONValue] {
        guard jobs > 0 else { throw KajiError(.invalidArgument, "jobs must be positive", field: "jobs") }
        guard rate > 0, rate <= 10_000 else { throw KajiError(.invalidArgument, "rate must be in (0, 10000]", field: "rate") }
        let concurrency = self.concurrency, logger = self.logger
        return try await run { store in
        let recorder = LatencyRecorder()
        var registry = WorkflowRegistry()
        registry.register(LatencyWorkflow(recorder: recorder))
        let client = KajiClient(store: store, catalog: registry.catalog)
        let countdown = Countdown(jobs)
        let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: concurrency), store: store, registry: registry, logger: logger,
                              metrics: self.metrics()) { _, outcome in
            countdown.record(outcome)
        }
        let poolTask = Task { try await pool.run() }
        // Let the pool register and open its LISTEN connection before measuring.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await store.liveWorkerCount() == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        let interval = Duration.milliseconds(Int64(1000 / rate))
        var sent: [(UUID, ContinuousClock.Instant)] = []
        var next = clock.now
        for _ in 0..<jobs {
            try await clock.sleep(until: next)
            next = next + interval
            let at = clock.now
            let r = try await client.enqueue(EnqueueRequest(kind: LatencyWorkflow.kind, input: "{}", actor: "bench"))
            sent.append((r.id, at))
        }
        await countdown.wait()
        pool.shutdown()
        try await poolTask.value
        var latencies = sent.compactMap { id, at in recorder.start(of: id).map { ($0 - at).seconds * 1000 } }.sorted()
        if latencies.isEmpty { latencies = [0] }
        func pct(_ p: Double) -> Double { round2(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) }
        return [
            "bench": .string("latency"), "jobs": .number(Double(jobs)), "rate": .number(rate),
            "p50_ms": .number(pct(0.50)), "p90_ms": .number(pct(0.90)), "p99_ms": .number(pct(0.99)),
            "max_ms": .number(round2(latencies.last ?? 0)),
            "failed": .number(Double(countdown.failures)),
            "settings": .string(try await self.settings(store)),
            "metrics": .bool(self.recordsMetrics),
        ]
        }
    }

    /// The pool's metrics: into a fresh Prometheus registry, or nowhere when `recordsMetrics` is off.
    func metrics() -> EngineMetrics {
        recordsMetrics ? EngineMetrics(factory: PrometheusExport(descriptions: WorkerMetrics.all).factory) : EngineMetrics(factory: NOOPMetricsHandler.instance)
    }
}

/// Counts finished runs and wakes a waiter when a target is reached.
final class Countdown: Sendable {
    private struct State {
        var remaining: Int
        var failures = 0
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(remaining: count)) }

    func record(_ outcome: RunOutcome) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            switch outcome {
            case .succeeded: break
            case .suspended, .retrying: return nil
            default: s.failures += 1
            }
            s.remaining -= 1
            if s.remaining <= 0, let w = s.waiter { s.waiter = nil; return w }
            return nil
        }
        waiter?.resume()
    }

    var failures: Int { state.withLock { $0.failures } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool in
                if s.remaining <= 0 { return true }
                s.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// A no-op workflow for queue throughput.
struct NoopWorkflow: Workflow {
    static let kind = "bench.noop"
    struct Input: Codable, Sendable {}
    func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput { NoOutput() }
}

/// Runs a worker pool in this process until `countdown` reaches zero, then drains it. Returns seconds.
func drainWithPool(store: RunStore, registry: WorkflowRegistry, concurrency: Int, countdown: Countdown, metrics: EngineMetrics, logger: Logger) async throws -> Double {
    let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: concurrency, claimBatch: concurrency),
                          store: store, registry: registry, logger: logger, metrics: metrics) { _, outcome in countdown.record(outcome) }
    let clock = ContinuousClock()
    let start = clock.now
    let poolTask = Task { try await pool.run() }
    await countdown.wait()
    let elapsed = (clock.now - start).seconds
    pool.shutdown()
    try await poolTask.value
    return elapsed
}

func residentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    return kb / 1024
}

func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }


/// Records, per run, when its first step's body began.
final class LatencyRecorder: Sendable {
    private let starts = Mutex<[UUID: ContinuousClock.Instant]>([:])
    func record(_ run: UUID) { starts.withLock { if $0[run] == nil { $0[run] = ContinuousClock.now } } }
    func start(of run: UUID) -> ContinuousClock.Instant? { starts.withLock { $0[run] } }
}

struct LatencyWorkflow: Workflow {
    static let kind = "bench.latency"
    struct Input: Codable, Sendable {}
    let recorder: LatencyRecorder
    func run(_ input: Input, context: WorkflowContext) async throws -> NoOutput {
        let recorder = self.recorder
        return try await context.step("first") { step in
            recorder.record(step.runID)
            return NoOutput()
        }
    }
}
