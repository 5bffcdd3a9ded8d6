import ArgumentParser
import Engine
import Foundation

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List runs, newest first.",
        discussion: """
            At most --limit runs; when there are more, the command for the next page (kaji runs --cursor …) is \
            printed on stderr, so --json output stays one array. The order is the run ids' (time-ordered), so \
            paging never repeats or skips a run, however many are enqueued meanwhile.
            """)

    @Option(name: .long, help: "Only runs in this state (\(RunState.allCases.map(\.rawValue).joined(separator: ", "))).")
    var state: String?

    @Option(name: .long, help: "Only runs of this workflow kind.")
    var kind: String?

    @Option(name: .long, help: "Only runs of this queue.")
    var queue: String?

    @Option(name: .long, help: "Only runs carrying this concurrency key, e.g. cluster:prod-a.")
    var concurrencyKey: String?

    @Option(name: .long, help: "Only runs enqueued by this actor, e.g. cli:alice@host or token:ci-bot.")
    var actor: String?

    @Option(name: .long, help: "At most this many runs (default 50, at most 10000).")
    var limit: Int = 50

    @Option(name: .long, help: "The next page: the cursor printed (on stderr) under the page before; give the same filters.")
    var cursor: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let query = RunQuery(state: try state.map { try RunState.parse($0) }, kind: kind, queue: queue, concurrencyKey: concurrencyKey,
                             actor: actor, cursor: cursor, limit: limit)
        try query.validate()
        let page = try await global.withBackend { backend in
            try await backend.runs(query)
        }
        let runs = page.items
        defer { if let next = page.nextCursor { Output.info("more runs: kaji runs --cursor \(next) (with the same filters)") } }
        if global.json {
            try Output.json(runs)
            return
        }
        if runs.isEmpty {
            print("no runs")
            return
        }
        let rows: [[String]] = runs.map { run in
            let error: String = run.lastError.map { String($0.prefix(60)) } ?? ""
            let attempt = "\(run.attempt)/\(run.maxAttempts)"
            return [run.id.uuidString, run.kind, run.state.rawValue, attempt, Output.time(run.createdAt), Output.time(run.finishedAt), error]
        }
        Output.table(["ID", "KIND", "STATE", "ATTEMPT", "CREATED", "FINISHED", "ERROR"], rows)
    }
}
