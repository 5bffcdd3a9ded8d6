import ArgumentParser
import Engine
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (in one transaction, under an advisory lock).",
        discussion: "Safe to run twice or from several processes at once: later runs find nothing to do."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let config = try global.databaseConfig()
        let report = try await KajiClient.migrate(config, logger: CLILogging.logger())
        let applied = report.applied, version = report.version
        struct Result: Encodable { let schema: String; let version: Int; let applied: [Int] }
        if global.json {
            try Output.json(Result(schema: report.schema, version: version, applied: applied.map(\.version)))
        } else if applied.isEmpty {
            print("schema \(config.schema) is up to date at version \(version)")
        } else {
            for file in applied { print("applied \(String(format: "%04d", file.version))_\(file.name)") }
            print("schema \(config.schema) is at version \(version)")
        }
    }
}
