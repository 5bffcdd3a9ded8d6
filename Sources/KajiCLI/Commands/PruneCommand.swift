import ArgumentParser
import Engine
import Foundation
import Server

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished runs (succeeded, failed, cancelled) older than an age, with their steps and payloads.",
        discussion: """
            Audit events stay. Runs go in batches of --batch-size, each its own short transaction, so workers are \
            not held up. Workers prune on their own when KAJI_RETENTION is set (e.g. KAJI_RETENTION=30d).
            Kept whatever their age: a failed or cancelled run that a cluster's inventory names as its last \
            operation (kaji retry recovers the cluster from it), and a run with an idempotency key for 24 hours \
            after it was enqueued (the idempotency window: the same key keeps finding it).
              kaji prune --older-than 30d
            """
    )

    @Option(name: .long, help: "Age of the runs to delete, by when they finished: 90d, 12h, 30m, 45s (combinable: 1d12h).")
    var olderThan: String

    @Option(name: .long, help: "Runs deleted per statement (default 500, 1...10000).")
    var batchSize: Int = 500

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        _ = try AgeLimits.olderThan(olderThan)
        guard (1...10_000).contains(batchSize) else { throw KajiError(.invalidArgument, "--batch-size \(batchSize) is out of range (1...10000)") }
        let olderThan = self.olderThan, batch = batchSize
        let result = try await global.withBackend { backend in
            try await backend.prune(olderThan: olderThan, batchSize: batch)
        }
        if global.json {
            try Output.json(result)
        } else {
            print("pruned \(result.runs) runs that finished before \(Output.time(result.cutoff)) (\(result.batches) batches)")
        }
    }
}
