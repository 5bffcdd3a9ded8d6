import ArgumentParser
import Engine
import Foundation

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue one run of a workflow.",
        discussion: """
            Examples:
              kaji enqueue diag.steps --input '{"steps": 3, "stepMillis": 100}'
              kaji enqueue diag.steps --input '{}' --idempotency-key nightly-2026-11-26 --json
            The input is checked against the workflow's input type before anything is stored.
            Cluster kinds (cluster.provision, cluster.scale-out, cluster.backup, …) take the concurrency key \
            cluster:NAME from their input, the key kaji apply uses, so that two operations on one cluster never overlap.
            """
    )

    @Argument(help: "Workflow kind, e.g. diag.steps.")
    var kind: String

    @Option(name: .long, help: "Input as JSON (default {}).")
    var input: String = "{}"

    @Option(name: .long, help: "Queue name (default: default).")
    var queue: String = "default"

    @Option(name: .long, help: "Priority; higher runs first (default 0).")
    var priority: Int = 0

    @Option(name: .long, help: "Earliest start, ISO 8601 (e.g. 2026-11-27T03:00:00Z) (default: now).")
    var at: String?

    @Option(name: .long, help: "Enqueueing the same key again returns the existing run (default: none).")
    var idempotencyKey: String?

    @Option(name: .long, help: "At most one run per key is active at a time, e.g. cluster:prod-a (default: none; cluster kinds always carry cluster:NAME, as kaji apply gives them, and refuse another key).")
    var concurrencyKey: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        var runAt: Date?
        if let at {
            guard let date = KajiJSON.parseDate(at) else {
                throw KajiError(.invalidArgument, "--at '\(at)' is not an ISO 8601 time (e.g. 2026-11-27T03:00:00Z)")
            }
            runAt = date
        }
        // Check the kind and input before touching the database.
        try BuiltinWorkflows.catalog.validate(kind: kind, input: input)
        let request = EnqueueRequest(kind: kind, input: input, queue: queue, priority: priority, runAt: runAt,
                                     idempotencyKey: idempotencyKey, concurrencyKey: concurrencyKey, actor: KajiClient.cliActor())
        let result = try await global.withBackend { backend in
            try await backend.enqueue(request)
        }
        if global.json {
            try Output.json(result)
        } else {
            print(result.created ? "enqueued \(result.id)" : "already enqueued \(result.id) (same idempotency key)")
        }
    }
}
