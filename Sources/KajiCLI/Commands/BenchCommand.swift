import ArgumentParser
import Engine
import Foundation
import Logging
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

extension BenchOptions {
    /// The bench these options describe, on `--database-url`.
    func bench() throws -> EngineBench {
        CLILogging.bootstrap(defaultLevel: .warning)
        return EngineBench(config: try global.databaseConfig(), concurrency: concurrency, baseline: baseline,
                           keepSchema: keepSchema, logger: CLILogging.logger("kaji.bench"))
    }
}

struct BenchQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Enqueue and drain no-op runs: enqueue_per_s, drain_per_s.")

    @Option(name: .long, help: "Runs to enqueue and drain (default 20000).")
    var jobs: Int = 20_000

    @Option(name: .long, help: "Finished runs (with payloads and steps) to insert first, to show claiming does not slow with history (default 0).")
    var history: Int = 0

    @OptionGroup var options: BenchOptions

    func run() async throws {
        print(try KajiJSON.string(JSONValue.object(try await options.bench().queue(jobs: jobs, history: history))))
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
        print(try KajiJSON.string(JSONValue.object(try await options.bench().workflow(workflows: workflows, steps: steps))))
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
        print(try KajiJSON.string(JSONValue.object(try await options.bench().latency(jobs: jobs, rate: rate))))
    }
}
