import ArgumentParser
import Engine
import Foundation

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a run: its state, each step with attempts, durations and errors, and its audit events."
    )

    @Argument(help: "Run id.")
    var run: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let config = try global.databaseConfig()
        let detail = try await config.withClient { client in
            try await client.run(id: id)
        }
        if global.json {
            try Output.json(RunDocument(detail))
        } else {
            RunPrinter.print(detail)
        }
    }
}

/// The human form of `kaji show`.
enum RunPrinter {
    /// "until …", "signal 'approval'", "12 polls, last: disk is migrating" for a wait record.
    static func waitSummary(_ json: String?) -> String {
        guard let json, let data = json.data(using: .utf8),
              let wait = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return "" }
        var parts: [String] = []
        if let signal = wait["signal"] as? String { parts.append("signal '\(signal)'") }
        if let until = wait["until"] as? String { parts.append("until \(until)") }
        if let polls = wait["polls"] as? Int { parts.append("\(polls) polls") }
        if let seen = wait["lastObservation"] as? String { parts.append("last: \(seen)") }
        if let deadline = wait["deadline"] as? String { parts.append("deadline \(deadline)") }
        return parts.joined(separator: ", ")
    }

    /// - Parameter events: also list the audit events (default true).
    static func print(_ d: RunDetail, events: Bool = true) {
        let r = d.run
        Swift.print("run      \(r.id.uuidString)")
        Swift.print("kind     \(r.kind)   queue \(r.queue)   priority \(r.priority)")
        Swift.print("state    \(r.state.rawValue)   attempt \(r.attempt)/\(r.maxAttempts)   epoch \(r.epoch)")
        Swift.print("by       \(r.actor)\(r.idempotencyKey.map { "   idempotency key \($0)" } ?? "")\(r.concurrencyKey.map { "   concurrency key \($0)" } ?? "")")
        if let by = r.cancelRequestedBy { Swift.print("cancel   asked by \(by)\(r.cancelReason.map { ": \($0)" } ?? "")") }
        Swift.print("created  \(Output.time(r.createdAt))   started \(Output.time(r.startedAt))   finished \(Output.time(r.finishedAt))")
        if let error = r.lastError { Swift.print("error    \(error)") }
        Swift.print("")
        if d.steps.isEmpty {
            Swift.print("no steps recorded")
        } else {
            Output.table(["STEP", "STATE", "ATTEMPTS", "DURATION", "ERROR / WAIT"], d.steps.map { s in
                [s.name, s.state.rawValue, "\(s.attempts)", Output.duration(ms: s.durationMs), s.error ?? waitSummary(s.wait)]
            })
            for s in d.steps where s.history.count > 1 || s.history.contains(where: { $0.outcome == "failed" }) {
                Swift.print("  \(s.name) attempts:")
                for a in s.history {
                    Swift.print("    #\(a.attempt) \(a.outcome) in \(Output.duration(ms: a.durationMs)) epoch \(a.epoch) on \(a.worker ?? "-")\(a.error.map { ": \($0)" } ?? "")")
                }
            }
        }
        guard events else { return }
        Swift.print("")
        Swift.print("events:")
        for e in d.events {
            var parts = ["  \(Output.time(e.at))", e.type, "by \(e.actor)"]
            if let step = e.step { parts.append("step \(step)") }
            if let attempt = e.attempt { parts.append("attempt \(attempt)") }
            if let epoch = e.epoch { parts.append("epoch \(epoch)") }
            if let detail = e.detail, detail != "{}" { parts.append(detail) }
            Swift.print(parts.joined(separator: "  "))
        }
    }
}
