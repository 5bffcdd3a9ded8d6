import ArgumentParser
import Engine
import Foundation

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a run: print each step as it changes until the run ends.",
        discussion: "Exit 0 when the run succeeded, 1 when it failed or was cancelled (or --timeout passed)."
    )

    @Argument(help: "Run id.")
    var run: String

    @Option(name: .long, help: "Give up after this many seconds (default 3600).")
    var timeout: Int = 3600

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout \(timeout) is out of range (1...86400 seconds)") }
    }

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let config = try global.databaseConfig()
        let timeout = self.timeout
        let detail = try await config.withClient { client in
            try await DemoProgress(client: client, runID: id, started: .now).follow(until: { $0.run.state.isFinished }, timeout: .seconds(timeout))
        }
        if global.json { try Output.json(RunDocument(detail)) }
        guard detail.run.state == .succeeded else {
            throw CLIFailure(message: "run \(id) \(detail.run.state.rawValue)\(detail.run.lastError.map { ": \($0)" } ?? "")")
        }
        if !global.json { print("run \(id) succeeded") }
    }
}
