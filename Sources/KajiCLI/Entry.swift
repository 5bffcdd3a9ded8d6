import ArgumentParser
import Engine
import Foundation

/// Runs the `kaji` command with Kaji's exit codes: 0 ok, 1 failure, 2 usage error.
@main
enum Entry {
    static func main() async {
        do {
            var command = try Kaji.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch let error as KajiError {
            Output.error(ErrorFields.message(error))
            exit(error.isUsageError ? 2 : 1)
        } catch let error as CLIFailure {
            Output.error(error.message)
            exit(error.code)
        } catch {
            let code = Kaji.exitCode(for: error)
            if code == .success {
                print(Kaji.fullMessage(for: error))
                exit(0)
            }
            if code == .validationFailure {
                FileHandle.standardError.write(Data((Kaji.fullMessage(for: error) + "\n").utf8))
                exit(2)
            }
            if let exitCode = error as? ExitCode { exit(exitCode.rawValue) }
            Output.error(DatabaseConfig.describe(error))
            exit(1)
        }
    }
}

/// A failure with a chosen exit code.
struct CLIFailure: Error {
    let message: String
    var code: Int32 = 1
}

struct Kaji: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kaji",
        abstract: "Kaji: durable workflows on PostgreSQL for cluster operations.",
        discussion: """
            Every command takes --database-url (default: $DATABASE_URL), --schema (default: $KAJI_SCHEMA or kaji) \
            and --json for machine-readable output. Exit codes: 0 ok, 1 failure, 2 usage error.
            Through kaji serve instead of the database: --server URL (default: $KAJI_SERVER) with the API token in \
            $KAJI_TOKEN (or --token); every command then goes through the HTTP API, with the same output and exit \
            codes, recorded as token:NAME. migrate, worker, serve, bench, demo and secret rekey work on the database only.
            """,
        subcommands: [
            MigrateCommand.self, EnqueueCommand.self, RunsCommand.self, ShowCommand.self, WatchCommand.self, RetryCommand.self,
            SignalCommand.self, ApproveCommand.self, RejectCommand.self, CancelCommand.self,
            WorkerCommand.self, DemoCommand.self, BenchCommand.self,
            ScheduleCommand.self, SecretCommand.self, AuditCommand.self, PruneCommand.self,
            ValidateCommand.self, ApplyCommand.self, ClustersCommand.self, ClusterCommand.self,
            TokenCommand.self, ServeCommand.self,
            SLOCommand.self,
        ]
    )
}
