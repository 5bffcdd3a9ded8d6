import ArgumentParser
import Engine
import Foundation
import Workflows

/// Reads the manifest named by `-f` (`-` for stdin). An unreadable file is a usage error (exit 2).
private func readManifest(_ path: String) throws -> String {
    if path == "-" {
        return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
    guard FileManager.default.fileExists(atPath: path) else {
        throw KajiError(.invalidArgument, "-f \(path): no such file (give the path of a cluster manifest, e.g. examples/demo.yaml)")
    }
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw KajiError(.invalidArgument, "-f \(path): cannot be read as UTF-8 text")
    }
}

/// Prints every problem, one `field.path: reason` per line (or as JSON), and fails with exit code 1.
private func fail(file: String, cluster: String?, problems: [ManifestProblem], json: Bool, what: String) throws -> Never {
    if json {
        try Output.json(ManifestReport(file: file, cluster: cluster, valid: false, problems: problems))
        throw ExitCode(1)
    }
    for problem in problems { print(problem.description) }
    throw CLIFailure(message: "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"); \(what)")
}

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a cluster manifest without touching the database.",
        discussion: """
            Prints "valid" (exit 0), or every problem, one per line as field.path: reason (exit 1).
            Examples:
              kaji validate -f examples/demo.yaml
              kaji validate -f cluster.yaml --json
            """
    )

    @Option(name: .shortAndLong, help: "The cluster manifest (YAML, apiVersion: kaji/v1, kind: Cluster); - reads stdin.")
    var file: String

    @Flag(name: .long, help: "Print machine-readable JSON: {file, cluster, valid, problems: [{field, reason, line}]}.")
    var json = false

    func run() async throws {
        let (checked, report) = ClusterService.validate(yaml: try readManifest(file), file: file)
        guard let spec = checked else {
            try fail(file: file, cluster: report.cluster, problems: report.problems, json: json, what: "nothing was changed")
        }
        if json {
            try Output.json(report)
        } else {
            print("valid: cluster \(spec.name), \(spec.masters.replicas) masters, \(spec.workers.replicas) workers in \(spec.zone)")
        }
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Compare a cluster manifest with the inventory and enqueue what is needed.",
        discussion: """
            A new cluster enqueues cluster.provision; more masters or workers than the inventory has enqueue \
            cluster.scale-out; a changed healthCheck.interval is recorded in the inventory (no run; the \
            workers' health checkers follow it at once); fewer (shrinking) or other changes are refused naming \
            the field; the same manifest again does nothing. Runs carry the concurrency key cluster:NAME and the idempotency key \
            apply:NAME:<sha256 of the manifest>, so applying twice enqueues once. A manifest with \
            velero.schedule gets the engine schedule backup:NAME (cluster.backup at that cron, UTC), added or \
            updated on every apply. An invalid manifest enqueues nothing (exit 1, every problem listed).
            Examples:
              kaji apply -f examples/demo.yaml --dry-run
              kaji apply -f examples/prod-a.yaml --json
            """
    )

    @Option(name: .shortAndLong, help: "The cluster manifest (YAML); - reads stdin.")
    var file: String

    @Flag(name: .long, help: "Print the plan of steps and enqueue nothing.")
    var dryRun = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let json = global.json
        // Everything that can be checked without the database is checked first: a bad manifest touches nothing.
        let text = try readManifest(file)
        let (checked, checkReport) = ClusterService.validate(yaml: text, file: file)
        guard let spec = checked else {
            try fail(file: file, cluster: checkReport.cluster, problems: checkReport.problems, json: json, what: "nothing was enqueued")
        }
        let dryRun = dryRun, manifest = text
        let outcome: Result<ApplyReport, ApplyRefused> = try await global.withBackend { backend in
            do {
                return .success(try await backend.apply(spec, manifest: manifest, dryRun: dryRun))
            } catch let refused as ApplyRefused {
                return .failure(refused)
            }
        }
        let report: ApplyReport
        switch outcome {
        case .failure(let refused):
            try fail(file: file, cluster: refused.cluster, problems: refused.problems, json: json, what: "nothing was enqueued")
        case .success(let value):
            report = value
        }
        if json {
            try Output.json(report)
            return
        }
        print(report.plan.summary)
        for setting in report.plan.settings ?? [] {
            if report.dryRun {
                print("dry run: would record \(setting.field) \(setting.to) in the inventory; nothing was changed")
            } else if report.settingsRecorded == true {
                print("recorded \(setting.field) \(setting.to) in the inventory")
            }
        }
        if report.dryRun {
            if let kind = report.plan.kind {
                print("dry run: would enqueue \(kind) (concurrency key \(report.plan.concurrencyKey), idempotency key \(report.plan.idempotencyKey ?? "-")); nothing was enqueued")
                print("steps:")
                for (index, step) in report.plan.steps.enumerated() { print(String(format: "%3d. ", index + 1) + step) }
            }
        } else if let id = report.runID, let kind = report.plan.kind {
            if report.created == true {
                print("enqueued \(kind) run \(id.uuidString.lowercased()) (concurrency key \(report.plan.concurrencyKey))")
                if report.plan.action == .provision {
                    print("it waits for an operator's approval: another operator runs kaji approve \(id.uuidString.lowercased())")
                }
            } else {
                let run = id.uuidString.lowercased()
                let state = report.runState?.rawValue ?? "unknown"
                var line = "already enqueued: run \(run), \(state) (this manifest was applied before)"
                if report.runState == .failed || report.runState == .cancelled { line += ": start it again with kaji retry \(run)" }
                print(line)
            }
        }
        if let schedule = report.plan.backupSchedule {
            let what = report.backupSchedule.map { " (\($0.rawValue))" } ?? (report.dryRun ? " (not registered: dry run)" : "")
            print("nightly backup: schedule \(schedule.name)\(what), cron \"\(schedule.cron)\" (\(schedule.timezone)), \(schedule.kind) to \(schedule.storageLocation)\(schedule.ttl.map { ", ttl \($0)" } ?? "")")
        }
    }
}

struct ClustersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clusters", abstract: "List the clusters in the inventory.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let records = try await global.withBackend { backend in
            try await backend.clusters()
        }
        if global.json {
            try Output.json(records)
            return
        }
        if records.isEmpty {
            print("no clusters (kaji apply -f cluster.yaml creates one)")
            return
        }
        Output.table(["NAME", "ZONE", "STATE", "MASTERS", "WORKERS", "TEAM", "API", "UPDATED"], records.map { record in
            [record.name, record.zone, record.state, ClusterShowCommand.count(record, .master), ClusterShowCommand.count(record, .worker),
             record.ownerTeam ?? record.spec.owners.team, record.apiEndpoint ?? "-", Output.time(record.updatedAt)]
        })
    }
}

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Look at one cluster.", subcommands: [ClusterShowCommand.self])
}

struct ClusterShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a cluster from the inventory: its state, manifest, nodes and API health.",
        discussion: "Example: kaji cluster show prod-a --json")

    @Argument(help: "Cluster name, e.g. prod-a.")
    var name: String

    @OptionGroup var global: GlobalOptions

    /// `nodes in the inventory/replicas in the manifest`, e.g. `2/3` while provisioning.
    static func count(_ record: ClusterRecord, _ role: ClusterNode.Role) -> String {
        let have = record.nodes.filter { $0.role == role }.count
        let want = role == .master ? record.spec.masters.replicas : record.spec.workers.replicas
        return "\(have)/\(want)"
    }

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let name = name
        let shown = try await global.withBackend { backend in
            try await backend.cluster(named: name)  // with its API health: ClusterHealth+Display
        }
        let record = shown.record, health = shown.health
        if global.json {
            try Output.json(shown)
            return
        }
        let spec = record.spec
        let rows: [(String, String)] = [
            ("name", record.name), ("state", record.state), ("zone", record.zone),
            ("kubernetes", spec.kubernetesVersion), ("api", record.apiEndpoint ?? "-"),
            ("switch", record.switchID ?? "-"), ("subnet", spec.network.subnet), ("vip", spec.network.controlPlaneVIP),
            ("load balancers", spec.network.loadBalancerRange),
            ("masters", "\(Self.count(record, .master)) (\(spec.masters.plan.cpu) CPU, \(spec.masters.plan.memoryGB) GB, \(spec.masters.diskGB) GB disk)"),
            ("workers", "\(Self.count(record, .worker)) (\(spec.workers.plan.cpu) CPU, \(spec.workers.plan.memoryGB) GB, \(spec.workers.diskGB) GB disk)"),
            ("team", record.ownerTeam ?? spec.owners.team), ("owner keys", "\(spec.owners.sshKeys.count)"),
            ("backup", spec.velero.map { "\($0.storageLocation), schedule \($0.schedule ?? "none"), ttl \($0.ttl ?? "default")" } ?? "none"),
            ("last run", record.lastRunID?.uuidString.lowercased() ?? "-"),
            ("created", Output.time(record.createdAt)), ("updated", Output.time(record.updatedAt)),
        ]
        for (label, value) in rows + ClusterHealthDisplay.rows(health, time: Output.time) { print(label.padding(toLength: 15, withPad: " ", startingAt: 0) + value) }
        guard !record.nodes.isEmpty else { return }
        print("")
        Output.table(["NODE", "ROLE", "ADDRESS", "SERVER", "DISK", "SSH"], record.nodes.map { node in
            [node.name, node.role.rawValue, node.address, node.serverID, node.diskID ?? "-", "\(node.sshUser)@\(node.sshHost):\(node.sshPort)"]
        })
    }
}
