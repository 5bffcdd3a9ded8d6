import ArgumentParser
import Engine
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read the audit trail, or verify that nothing in it was altered or deleted.",
        discussion: """
            Examples:
              kaji audit --run RUN
              kaji audit --actor cli:alice@host --since 2026-11-26T00:00:00Z --json
              kaji audit verify
            Events are append-only (the database refuses UPDATE and DELETE) and chained by SHA-256 hashes; \
            `verify` walks the chain and names the first altered or missing event (exit 1).
            """,
        subcommands: [AuditList.self, AuditVerify.self],
        defaultSubcommand: AuditList.self
    )
}

struct AuditList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Audit events, oldest first (the newest --limit of those matching).")

    @Option(name: .long, help: "Only events of this run.")
    var run: String?

    @Option(name: .long, help: "Only events by this actor, e.g. cli:alice@host or worker:HOST:PID:X.")
    var actor: String?

    @Option(name: .long, help: "Only events of this type, e.g. run.enqueued, secret.revealed.")
    var type: String?

    @Option(name: .long, help: "Only events at or after this time, ISO 8601 (e.g. 2026-11-26T00:00:00Z).")
    var since: String?

    @Option(name: .long, help: "At most this many events (default 100, at most 100000).")
    var limit: Int = 100

    @Option(name: .long, help: "The page before: the cursor printed (on stderr) above the page after it; give the same filters.")
    var cursor: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        var filter = AuditFilter(actor: actor, type: type, limit: limit)
        if let run { filter.runID = try RunArgument.parse(run) }
        if let since {
            guard let date = KajiJSON.parseDate(since) else {
                throw KajiError(.invalidArgument, "--since '\(since)' is not an ISO 8601 time (e.g. 2026-11-26T00:00:00Z)")
            }
            filter.since = date
        }
        guard (1...100_000).contains(limit) else { throw KajiError(.invalidArgument, "--limit \(limit) is out of range (1...100000)") }
        let query = filter, cursor = self.cursor
        let page = try await global.withBackend { backend in try await backend.audit(query, cursor: cursor) }
        let events = page.items
        defer { if let next = page.nextCursor { Output.info("older events: kaji audit --cursor \(next) (with the same filters)") } }
        if global.json {
            try Output.json(events)
            return
        }
        if events.isEmpty {
            print("no audit events")
            return
        }
        Output.table(["ID", "AT", "TYPE", "ACTOR", "RUN", "STEP", "DETAIL"], events.map { e in
            [String(e.id), Output.time(e.at), e.type, e.actor, e.runId?.uuidString ?? "-", e.step ?? "-", e.detail.map { String($0.text.prefix(100)) } ?? ""]
        })
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Seal pending events into the hash chain, then check every event against it. Exit 1 naming the first altered or missing event.",
        discussion: "Prints the chain's head (sequence and hash): keep it elsewhere to detect a rewritten chain later with --expect-head."
    )

    @Option(name: .long, help: "A head printed by an earlier verify, SEQ:HASH: fail unless chain entry SEQ still has that hash.")
    var expectHead: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let head = try expectHead.map { try AuditHead.parse($0) }
        let result = try await global.withBackend { backend in
            try await backend.verifyAudit(expectHead: head)
        }
        if global.json {
            try Output.json(result)
        } else if result.ok {
            print("audit ok: \(result.checked) events verified; head \(result.headSeq):\(result.headHash)")
        }
        if let problem = result.problem {
            throw CLIFailure(message: "audit verification failed: \(problem.message) (\(result.checked) events before it verified)")
        }
    }
}
