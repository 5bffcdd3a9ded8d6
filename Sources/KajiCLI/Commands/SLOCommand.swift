import ArgumentParser
import Engine
import Foundation
import SLO

struct SLOCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slo",
        abstract: "Prometheus rules for SLOs: Kaji's own, or any in sloth's prometheus/v1 format.",
        discussion: """
            Kaji's built-in SLOs: each cluster's API availability (answered and readyz passed: kaji_cluster_readyz_passed), the provisioning \
            success ratio, provisioning time to Ready under 30 minutes, backup freshness (26 hours). Print them with \
            `kaji slo spec`, edit, and pass the file to `kaji slo rules -f`.
            """,
        subcommands: [SLORulesCommand.self, SLOSpecCommand.self]
    )
}

struct SLORulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Write Prometheus recording and alerting rules (multi-window, multi-burn-rate, as sloth does).",
        discussion: """
            Reads sloth's prometheus/v1 spec (version, service, labels, slos[].name/objective/description/labels, \
            sli.events.error_query/total_query or sli.raw.error_ratio_query with {{.window}}, alerting.name/labels/\
            annotations/page_alert/ticket_alert); several YAML documents may share one file. Writes, per SLO, the \
            error ratio over 5m, 30m, 1h, 2h, 6h, 1d, 3d and 30d, the budget metadata, and a page alert (14.4x over \
            1h and 5m, or 6x over 6h and 30m) and a ticket alert (3x over 1d and 2h, or 1x over 3d and 6h). Check \
            the result with `promtool check rules FILE`.
            """
    )

    @Option(name: [.short, .customLong("file")], help: "A sloth prometheus/v1 spec (default: Kaji's built-in SLOs; - reads stdin).")
    var file: String?

    @Option(name: [.short, .customLong("out")], help: "Where to write the rules (default: stdout).")
    var out: String?

    func run() async throws {
        let text: String
        let source: String
        switch file {
        case nil:
            text = BuiltinSLOs.yaml
            source = "Kaji's built-in SLOs (kaji slo spec)"
        case "-":
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            source = "stdin"
        case let path?:
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw KajiError(.invalidArgument, "file '\(path)' cannot be read: \(error.localizedDescription)", field: "file")
            }
            source = URL(fileURLWithPath: path).lastPathComponent
        }
        let rules = try SLORules.rulesFile(yaml: text, source: source)
        guard let out, out != "-" else {
            FileHandle.standardOutput.write(Data(rules.utf8))
            return
        }
        do {
            try rules.write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            throw KajiError(.invalidArgument, "out '\(out)' cannot be written: \(error.localizedDescription)", field: "out")
        }
        Output.info("wrote \(out)")
    }
}

struct SLOSpecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec",
        abstract: "Print Kaji's built-in SLOs as a sloth prometheus/v1 spec (a start for `kaji slo rules -f`)."
    )

    func run() async throws {
        FileHandle.standardOutput.write(Data(BuiltinSLOs.yaml.utf8))
    }
}
