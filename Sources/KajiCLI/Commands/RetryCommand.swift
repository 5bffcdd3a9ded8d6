import ArgumentParser
import Engine
import Foundation

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Start a failed or cancelled run again from its first unfinished step.",
        discussion: "Finished steps keep their results and do not run again; failed steps get a fresh retry budget."
    )

    @Argument(help: "Run id.")
    var run: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let summary = try await global.withBackend { backend in
            try await backend.retry(id: id)
        }
        if global.json {
            try Output.json(summary)
        } else {
            print("run \(summary.id.uuidString) is pending again (attempt \(summary.attempt))")
        }
    }
}
