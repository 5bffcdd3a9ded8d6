import ArgumentParser
import Engine
import Foundation

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a run: print each step as it changes until the run ends.",
        discussion: """
            Exit 0 when the run succeeded, 1 when it failed or was cancelled (or --timeout passed). Through kaji \
            serve (--server) it follows the run's event stream and reconnects on its own if the stream breaks.
            """
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
        let timeout = self.timeout, json = global.json
        let document = try await global.withBackend { backend in
            let printer = ProgressPrinter(started: .now)
            try await backend.follow(id: id, timeout: .seconds(timeout)) { change in
                if !json { printer.change(change) }
            }
            return try await backend.run(id: id)
        }
        if global.json { try Output.json(document) }
        guard document.state == .succeeded else {
            throw CLIFailure(message: "run \(id) \(document.state.rawValue)\(document.lastError.map { ": \($0)" } ?? "")")
        }
        if !global.json { print("run \(id) succeeded") }
    }
}
