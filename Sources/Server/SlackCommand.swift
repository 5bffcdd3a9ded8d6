import Engine
import Foundation

/// One `/kaji …` command, parsed from the slash command's `text`.
enum SlackCommand: Sendable, Equatable {
    case help
    /// `status` (the latest runs), `status RUN` or `status CLUSTER`.
    case status(String?)
    case runs
    /// `apply NAME`: the manifest of cluster NAME from the configured folder.
    case apply(cluster: String)
    /// `scale NAME workers=N [masters=N]`: the cluster's manifest in the inventory with more nodes.
    case scale(cluster: String, masters: Int?, workers: Int?)
    /// `backup NAME [BACKUP]`.
    case backup(cluster: String, name: String?)
    /// `restore NAME BACKUP`.
    case restore(cluster: String, backup: String)
    /// `rotate NAME`: a new Argo CD admin password.
    case rotate(cluster: String)
    case approve(run: UUID)
    case reject(run: UUID, reason: String)
    case cancel(run: UUID)

    static let usage = """
        /kaji help | status [RUN|CLUSTER] | runs
        /kaji apply CLUSTER | scale CLUSTER workers=N [masters=N] | backup CLUSTER [NAME] | restore CLUSTER BACKUP | rotate CLUSTER
        /kaji approve RUN | reject RUN REASON… | cancel RUN
        """

    /// The least role that may run the command: viewer reads; operator applies, scales, backs up,
    /// restores, rotates and cancels; approver approves and rejects.
    var role: APIRole {
        switch self {
        case .help, .status, .runs: .viewer
        case .apply, .scale, .backup, .restore, .rotate, .cancel: .operator
        case .approve, .reject: .approver
        }
    }

    /// Whether the command changes something (and so is deduplicated by its `trigger_id`).
    var writes: Bool { role > .viewer }

    var name: String {
        switch self {
        case .help: "help"
        case .status: "status"
        case .runs: "runs"
        case .apply: "apply"
        case .scale: "scale"
        case .backup: "backup"
        case .restore: "restore"
        case .rotate: "rotate"
        case .approve: "approve"
        case .reject: "reject"
        case .cancel: "cancel"
        }
    }

    /// Parses `text`; the error (`invalidArgument`, field `text`) says what the command should look like.
    static func parse(_ text: String) throws -> SlackCommand {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let verb = words.first?.lowercased() else { return .help }
        let args = Array(words.dropFirst())
        func usage(_ form: String) -> KajiError {
            KajiError(.invalidArgument, "usage: /kaji \(form)", field: "text")
        }
        func run(_ text: String, _ form: String) throws -> UUID {
            guard let id = UUID(uuidString: text) else {
                throw KajiError(.invalidArgument, "'\(text.prefix(80))' is not a run id (a UUID, as /kaji runs lists them); usage: /kaji \(form)", field: "text")
            }
            return id
        }
        switch verb {
        case "help":
            return .help
        case "status":
            guard args.count <= 1 else { throw usage("status [RUN|CLUSTER]") }
            return .status(args.first)
        case "runs":
            guard args.isEmpty else { throw usage("runs") }
            return .runs
        case "apply":
            guard args.count == 1 else { throw usage("apply CLUSTER") }
            return .apply(cluster: args[0])
        case "scale":
            let form = "scale CLUSTER workers=N [masters=N]"
            guard args.count >= 2 else { throw usage(form) }
            var masters: Int?
            var workers: Int?
            for arg in args.dropFirst() {
                let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let count = Int(parts[1]), (0...1000).contains(count) else { throw usage(form) }
                switch parts[0].lowercased() {
                case "workers": workers = count
                case "masters": masters = count
                default: throw usage(form)
                }
            }
            return .scale(cluster: args[0], masters: masters, workers: workers)
        case "backup":
            guard (1...2).contains(args.count) else { throw usage("backup CLUSTER [NAME]") }
            return .backup(cluster: args[0], name: args.count == 2 ? args[1] : nil)
        case "restore":
            guard args.count == 2 else { throw usage("restore CLUSTER BACKUP") }
            return .restore(cluster: args[0], backup: args[1])
        case "rotate":
            guard args.count == 1 else { throw usage("rotate CLUSTER") }
            return .rotate(cluster: args[0])
        case "approve":
            guard args.count == 1 else { throw usage("approve RUN") }
            return .approve(run: try run(args[0], "approve RUN"))
        case "reject":
            guard args.count >= 2 else { throw usage("reject RUN REASON…") }
            return .reject(run: try run(args[0], "reject RUN REASON…"), reason: args.dropFirst().joined(separator: " "))
        case "cancel":
            guard args.count == 1 else { throw usage("cancel RUN") }
            return .cancel(run: try run(args[0], "cancel RUN"))
        default:
            throw KajiError(.invalidArgument, "unknown command '\(verb.prefix(40))'\n\(Self.usage)", field: "text")
        }
    }
}
