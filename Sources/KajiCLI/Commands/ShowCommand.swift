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
        let document = try await global.withBackend { backend in
            try await backend.run(id: id)
        }
        if global.json {
            try Output.json(document)
        } else {
            RunPrinter.print(document)
        }
    }
}

/// The human form of `kaji show`, from the `--json` document (the same whether it came from the database
/// or from a server).
enum RunPrinter {
    /// "until …", "signal 'approval'", "12 polls, last: disk is migrating" for a wait record.
    static func waitSummary(_ wait: JSONFragment?) -> String {
        guard let wait else { return "" }
        var parts: [String] = []
        if let signal = wait.value["signal"]?.stringValue { parts.append("signal '\(signal)'") }
        if let until = wait.value["until"]?.stringValue { parts.append("until \(until)") }
        if let polls = wait.value["polls"]?.doubleValue, polls.rounded() == polls { parts.append("\(Int(polls)) polls") }
        if let seen = wait.value["lastObservation"]?.stringValue { parts.append("last: \(seen)") }
        if let deadline = wait.value["deadline"]?.stringValue { parts.append("deadline \(deadline)") }
        return parts.joined(separator: ", ")
    }

    /// - Parameter events: also list the audit events (default true).
    static func print(_ d: RunDetail, events: Bool = true) {
        print(RunDocument(d), events: events)
    }

    /// - Parameter events: also list the audit events (default true).
    static func print(_ r: RunDocument, events: Bool = true) {
        Swift.print("run      \(r.id.uuidString)")
        Swift.print("kind     \(r.kind)   queue \(r.queue)   priority \(r.priority)")
        Swift.print("state    \(r.state.rawValue)   attempt \(r.attempt)/\(r.maxAttempts)   epoch \(r.epoch)")
        Swift.print("by       \(r.actor)\(r.idempotencyKey.map { "   idempotency key \($0)" } ?? "")\(r.concurrencyKey.map { "   concurrency key \($0)" } ?? "")")
        if let by = r.cancelRequestedBy { Swift.print("cancel   asked by \(by)\(r.cancelReason.map { ": \($0)" } ?? "")") }
        Swift.print("created  \(Output.time(r.createdAt))   started \(Output.time(r.startedAt))   finished \(Output.time(r.finishedAt))")
        if let error = r.lastError { Swift.print("error    \(error)") }
        Swift.print("")
        if r.steps.isEmpty {
            Swift.print("no steps recorded")
        } else {
            Output.table(["STEP", "STATE", "ATTEMPTS", "DURATION", "ERROR / WAIT"], r.steps.map { s in
                [s.name, s.state.rawValue, "\(s.attempts)", Output.duration(ms: s.durationMs), s.error ?? waitSummary(s.wait)]
            })
            for s in r.steps where s.history.count > 1 || s.history.contains(where: { $0.outcome == "failed" }) {
                Swift.print("  \(s.name) attempts:")
                for a in s.history {
                    Swift.print("    #\(a.attempt) \(a.outcome) in \(Output.duration(ms: a.durationMs)) epoch \(a.epoch) on \(a.worker ?? "-")\(a.error.map { ": \($0)" } ?? "")")
                }
            }
        }
        guard events else { return }
        Swift.print("")
        Swift.print("events:")
        for e in r.events {
            var parts = ["  \(Output.time(e.at))", e.type, "by \(e.actor)"]
            if let step = e.step { parts.append("step \(step)") }
            if let attempt = e.attempt { parts.append("attempt \(attempt)") }
            if let epoch = e.epoch { parts.append("epoch \(epoch)") }
            if let detail = e.detail?.text, detail != "{}" { parts.append(detail) }
            Swift.print(parts.joined(separator: "  "))
        }
    }
}
