import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Worker

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine against --database-url, each bench on a fresh schema; prints one JSON object.",
        discussion: """
            Judge figures against ../shared/bench/pg-baseline.sh run just before and after on the same server \
            (pass its figure as --baseline to get the ratio printed). Use a release build.
            """,
        subcommands: [BenchQueue.self, BenchWorkflow.self, BenchLatency.self]
    )
}

struct BenchOptions: ParsableArguments {
    @Option(name: .long, help: "Runs executed at once by the in-process worker pool (default 16).")
    var concurrency: Int = 16

    @Option(name: .long, help: "Commit ceiling from pg-baseline.sh (commits/s); adds *_vs_baseline figures.")
    var baseline: Double?

    @Flag(name: .long, help: "Keep the bench schema afterwards (default: dropped).")
    var keepSchema = false

    @OptionGroup var global: GlobalOptions
}

/// A bench's fresh schema, worker pool and completion counting.
struct BenchHarness {
    let config: DatabaseConfig
    let logger: Logger

    init(options: BenchOptions) throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        var config = try options.global.databaseConfig()
        config.schema = "kaji_bench_\(UInt32.random(in: 0...UInt32.max))"
        config.maxConnections = options.concurrency + 6
        self.config = config
        self.logger = CLILogging.logger("kaji.bench")
    }

    /// Creates the schema, runs `body`, drops the schema.
    func run<T: Sendable>(keep: Bool, _ body: @Sendable (RunStore) async throws -> T) async throws -> T {
        let migrator = Migrator(config: config, logger: logger)
        try await migrator.migrate()
        do {
            let result = try await config.withStore(logger: logger, body)
            if !keep { try await migrator.dropSchema() }
            return result
        } catch {
            if !keep { try? await migrator.dropSchema() }
            throw error
        }
    }

    /// Database settings that decide the figures (printed with them).
    func settings(_ store: RunStore) async throws -> String {
        try await store.databaseSettings(["fsync", "synchronous_commit"])
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
func drainWithPool(store: RunStore, registry: WorkflowRegistry, concurrency: Int, countdown: Countdown, logger: Logger) async throws -> Double {
    let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: concurrency, claimBatch: concurrency),
                          store: store, registry: registry, logger: logger) { _, outcome in countdown.record(outcome) }
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

struct BenchQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Enqueue and drain no-op runs: enqueue_per_s, drain_per_s.")

    @Option(name: .long, help: "Runs to enqueue and drain (default 20000).")
    var jobs: Int = 20_000

    @Option(name: .long, help: "Finished runs (with payloads and steps) to insert first, to show claiming does not slow with history (default 0).")
    var history: Int = 0

    @OptionGroup var options: BenchOptions

    func run() async throws {
        guard jobs > 0 else { throw KajiError(.invalidArgument, "--jobs must be positive") }
        guard (0...10_000_000).contains(history) else { throw KajiError(.invalidArgument, "--history must be 0...10000000") }
        let harness = try BenchHarness(options: options)
        let jobs = self.jobs, concurrency = options.concurrency, baseline = options.baseline, history = self.history
        let result: [String: JSONValue] = try await harness.run(keep: options.keepSchema) { store in
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
            let drainSeconds = try await drainWithPool(store: store, registry: registry, concurrency: concurrency, countdown: countdown, logger: harness.logger)
            var out: [String: JSONValue] = [
                "bench": .string("queue"), "jobs": .number(Double(jobs)), "concurrency": .number(Double(concurrency)),
                "enqueue_per_s": .number(round2(Double(jobs) / enqueueSeconds)),
                "drain_per_s": .number(round2(Double(jobs) / drainSeconds)),
                "failed": .number(Double(countdown.failures)),
                "history": .number(Double(history)),
                "empty_claim_ms": .number((emptyClaimMs * 1000).rounded() / 1000),
                "settings": .string(try await harness.settings(store)),
                "rss_mb": .number(round2(residentMegabytes())),
            ]
            if let baseline, baseline > 0 {
                out["baseline_commits_per_s"] = .number(baseline)
                out["drain_vs_baseline"] = .number(round2(Double(jobs) / drainSeconds / baseline))
            }
            return out
        }
        print(try KajiJSON.string(JSONValue.object(result)))
    }
}

struct BenchWorkflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workflow", abstract: "Run workflows of durable checkpointed steps: workflows_per_s, steps_per_s.")

    @Option(name: .long, help: "Workflows to run (default 2000).")
    var workflows: Int = 2000

    @Option(name: .long, help: "Steps per workflow (default 5).")
    var steps: Int = 5

    @OptionGroup var options: BenchOptions

    func run() async throws {
        guard workflows > 0, steps > 0 else { throw KajiError(.invalidArgument, "--workflows and --steps must be positive") }
        let harness = try BenchHarness(options: options)
        let workflows = self.workflows, steps = self.steps, concurrency = options.concurrency, baseline = options.baseline
        let result: [String: JSONValue] = try await harness.run(keep: options.keepSchema) { store in
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
            let seconds = try await drainWithPool(store: store, registry: registry, concurrency: concurrency, countdown: countdown, logger: harness.logger)
            let stepsPerSecond = Double(workflows * steps) / seconds
            var out: [String: JSONValue] = [
                "bench": .string("workflow"), "workflows": .number(Double(workflows)), "steps": .number(Double(steps)),
                "concurrency": .number(Double(concurrency)),
                "workflows_per_s": .number(round2(Double(workflows) / seconds)),
                "steps_per_s": .number(round2(stepsPerSecond)),
                "failed": .number(Double(countdown.failures)),
                "settings": .string(try await harness.settings(store)),
            ]
            if let baseline, baseline > 0 {
                out["baseline_commits_per_s"] = .number(baseline)
                out["steps_vs_baseline"] = .number(round2(stepsPerSecond / baseline))
            }
            return out
        }
        print(try KajiJSON.string(JSONValue.object(result)))
    }
}

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

struct BenchLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Pickup latency at a steady rate: p50_ms, p90_ms, p99_ms, max_ms, from the enqueue call to the first step's body."
    )

    @Option(name: .long, help: "Runs to enqueue, one at a time (default 500).")
    var jobs: Int = 500

    @Option(name: .long, help: "Runs enqueued per second (default 50).")
    var rate: Double = 50

    @OptionGroup var options: BenchOptions

    func run() async throws {
        guard jobs > 0, rate > 0, rate <= 10_000 else { throw KajiError(.invalidArgument, "--jobs must be positive and --rate in (0, 10000]") }
        let harness = try BenchHarness(options: options)
        let jobs = self.jobs, rate = self.rate, concurrency = options.concurrency
        let result: [String: JSONValue] = try await harness.run(keep: options.keepSchema) { store in
            let recorder = LatencyRecorder()
            var registry = WorkflowRegistry()
            registry.register(LatencyWorkflow(recorder: recorder))
            let client = KajiClient(store: store, catalog: registry.catalog)
            let countdown = Countdown(jobs)
            let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: concurrency), store: store, registry: registry, logger: harness.logger) { _, outcome in
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
                "settings": .string(try await harness.settings(store)),
            ]
        }
        print(try KajiJSON.string(JSONValue.object(result)))
    }
}
