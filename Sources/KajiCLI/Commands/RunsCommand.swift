import ArgumentParser
import Engine
import Foundation

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")

    @Option(name: .long, help: "Only runs in this state (\(RunState.allCases.map(\.rawValue).joined(separator: ", "))).")
    var state: String?

    @Option(name: .long, help: "Only runs of this workflow kind.")
    var kind: String?

    @Option(name: .long, help: "At most this many runs (default 50, at most 10000).")
    var limit: Int = 50

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let query = RunQuery(state: try state.map { try RunState.parse($0) }, kind: kind, limit: limit)
        try query.validate()
        let config = try global.databaseConfig()
        let runs = try await config.withClient { client in
            try await client.runs(query)
        }
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
