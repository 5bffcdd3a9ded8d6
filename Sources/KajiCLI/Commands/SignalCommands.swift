import ArgumentParser
import Engine
import Foundation

struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Send a signal to a run; kept until the run waits for it.",
        discussion: """
            Example: kaji signal RUN disk-ready --payload '{"disk": "113000000001"}'
            A signal named approval must carry an approval, {"approved": true|false, "reason": "why"} (a rejection \
            needs a reason); anything else is refused (exit 2) and not stored. kaji approve / kaji reject send one.
            """
    )

    @Argument(help: "Run id.")
    var run: String

    @Argument(help: "Signal name.")
    var name: String

    @Option(name: .long, help: "Payload as JSON (default {}).")
    var payload: String = "{}"

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let name = self.name, payload = self.payload
        let receipt = try await global.withBackend { backend in
            try await backend.signal(runID: id, name: name, payload: payload)
        }
        try DecisionOutput.print(json: global.json, receipt)
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a run waiting for an operator's approval (recorded with your identity).",
        discussion: "A workflow can require that the approver is not the person who enqueued the run."
    )

    @Argument(help: "Run id.")
    var run: String

    @Option(name: .long, help: "Why (recorded in the audit trail).")
    var reason: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Decision.send(run: run, approved: true, reason: reason, global: global)
    }
}

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Reject a run waiting for approval; it fails with your reason."
    )

    @Argument(help: "Run id.")
    var run: String

    @Option(name: .long, help: "Why (required; recorded in the audit trail and the run's error).")
    var reason: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Decision.send(run: run, approved: false, reason: reason, global: global)
    }
}

enum Decision {
    static func send(run: String, approved: Bool, reason: String?, global: GlobalOptions) async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let receipt = try await global.withBackend { backend in
            try await backend.decide(runID: id, approved: approved, reason: reason)
        }
        try DecisionOutput.print(json: global.json, receipt)
    }
}

enum DecisionOutput {
    static func print(json: Bool, _ sent: SignalReceipt) throws {
        if json { try Output.json(sent) } else { Swift.print("sent \(sent.signal) to run \(sent.run) as \(sent.sender)") }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run.",
        discussion: """
            A pending, waiting or retrying run ends cancelled at once. A running run stops at its next step boundary \
            (the running step sees cancellation); a workflow with undo steps runs them first. Who cancelled and why is recorded.
            """
    )

    @Argument(help: "Run id.")
    var run: String

    @Option(name: .long, help: "Why (recorded in the audit trail).")
    var reason: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let id = try RunArgument.parse(run)
        let reason = self.reason
        let receipt = try await global.withBackend { backend in
            try await backend.cancel(runID: id, reason: reason)
        }
        if global.json {
            try Output.json(receipt)
        } else {
            print(receipt.outcome == .cancelled ? "run \(id) cancelled" : "cancel requested: run \(id) stops at its next step boundary")
        }
    }
}
