import ArgumentParser
import Engine
import Foundation
import Logging
import Workflows

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the main job on built-in defaults and show it working.",
        discussion: """
            Starts everything it needs: a private PostgreSQL (unless --database-url or DATABASE_URL is given), the \
            SAKURA Cloud simulator, a private sshd serving the simulated nodes, worker processes and kaji serve on \
            127.0.0.1 (a free port). It prints the server's URL and a viewer token (read-only, valid 24 h). Then \
            alice (an operator token) applies examples/demo.yaml (3 masters, 2 workers) through the API, bob (an \
            approver token) approves it there, and the demo shows live progress per step and ends with the step \
            history and how long each step took. Everything it started is stopped at the end, or with --serve kept \
            running until Ctrl-C (SIGINT) or SIGTERM. --workflow diag runs the diagnostic workflow instead (no \
            simulator, no sshd).
            """
    )

    @Option(name: .long, help: "What to run: cluster (provision examples/demo.yaml) or diag (default cluster).")
    var workflow: String = "cluster"

    @Option(name: .long, help: "The manifest the cluster demo applies (default examples/demo.yaml of this checkout).")
    var file: String?

    @Option(name: .long, help: "diag: runs to enqueue (default 4).")
    var runs: Int = 4

    @Option(name: .long, help: "Worker processes (default 2).")
    var workers: Int = 2

    @Option(name: .long, help: "diag: steps per run (default 4).")
    var steps: Int = 4

    @Flag(name: .long, help: "Keep kaji serve, the workers, the simulator and PostgreSQL running after the demo, until Ctrl-C or SIGTERM (default: stop them at the end).")
    var serve = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...100).contains(runs) else { throw ValidationError("--runs \(runs) is out of range (1...100)") }
        guard (1...8).contains(workers) else { throw ValidationError("--workers \(workers) is out of range (1...8)") }
        guard (1...50).contains(steps) else { throw ValidationError("--steps \(steps) is out of range (1...50)") }
        guard ["cluster", "diag"].contains(workflow) else { throw ValidationError("--workflow must be cluster or diag, got '\(workflow)'") }
    }

    func run() async throws {
        let demo = self
        do {
            try await DemoSignals.run {
                if demo.workflow == "cluster" {
                    try await ClusterDemo(file: demo.file ?? RepoPaths.root + "/examples/demo.yaml", workers: demo.workers, serve: demo.serve, global: demo.global).run()
                } else {
                    try await demo.runDiag()
                }
            }
        } catch let interrupted as DemoSignals.Interrupted {
            throw CLIFailure(message: "kaji demo was stopped by signal \(interrupted.signal) before it finished; what it started is stopped", code: interrupted.exitCode)
        }
    }

    /// Says that the demo keeps serving until a signal (`--serve`).
    static func serving(_ server: DemoServe) {
        print("serving on \(server.url) with the workers\(server.process.isRunning ? "" : " (kaji serve exited: see \(server.log))"); Ctrl-C (or SIGTERM) stops everything the demo started")
        fflush(nil)  // stdout is a file or a pipe for scripts and tests: let them see it now
    }

    func runDiag() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let logger = CLILogging.logger("kaji.demo")
        var privateServer: PrivatePostgres?
        let url: String
        if let given = global.databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !given.isEmpty {
            url = given
        } else {
            Output.info("starting a private PostgreSQL…")
            let server = try PrivatePostgres.start()
            privateServer = server
            url = server.url
            Output.info("PostgreSQL on 127.0.0.1:\(server.port) (data in \(server.directory))")
        }
        defer { privateServer?.stop() }
        var config = try DatabaseConfig(url: url, schema: global.schema ?? "kaji_demo")
        config.maxConnections = 4
        let applied = try await KajiClient.migrate(config, logger: logger).applied
        Output.info("schema \(config.schema): \(applied.isEmpty ? "up to date" : "applied \(applied.map { String(format: "%04d_%@", $0.version, $0.name) }.joined(separator: ", "))")")

        let workerProcesses = try (0..<workers).map { index in try spawnWorker(url: url, schema: config.schema, index: index) }
        defer {
            for process in workerProcesses where process.isRunning { process.terminate() }
            for process in workerProcesses { process.waitUntilExit() }
        }
        Output.info("\(workers) worker processes, pids \(workerProcesses.map { String($0.processIdentifier) }.joined(separator: " "))")
        let scratch = try PrivatePostgres.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let server = try await DemoServe.start(databaseURL: url, schema: config.schema, extraEnvironment: [:], log: scratch + "/serve.log")
        defer { server.stop() }
        let viewer = try await config.withClient(logger: logger) { client in
            try await DemoTokens.create(client, "demo-viewer", role: .viewer, actor: KajiClient.cliActor())
        }
        server.announce(viewer: viewer)
        let runs = self.runs, steps = self.steps
        let ids: [UUID] = try await config.withClient(logger: logger) { client in
            var ids: [UUID] = []
            for index in 0..<runs {
                let fail = index == 1 ? 2 : 0
                let input = "{\"steps\": \(steps), \"stepMillis\": \(150 + 50 * index), \"failFirstAttempts\": \(fail)}"
                let r = try await client.enqueue(EnqueueRequest(kind: DiagWorkflow.kind, input: input, actor: KajiClient.cliActor()))
                ids.append(r.id)
            }
            return ids
        }
        Output.info("enqueued \(ids.count) runs of \(DiagWorkflow.kind); \(workers) worker processes running")

        let details: [RunDetail] = try await config.withClient(logger: logger) { client in
            let deadline = ContinuousClock.now + .seconds(120)
            var lastLine = ""
            while true {
                var done = 0, stepsDone = 0, stepsTotal = 0
                var states: [String] = []
                for id in ids {
                    guard let detail = try await DemoRuns.detail(client, id) else { continue }
                    if detail.run.state.isFinished { done += 1 }
                    stepsDone += detail.steps.filter { $0.state == .succeeded }.count
                    stepsTotal += steps
                    states.append(detail.run.state.rawValue)
                }
                let line = "progress: \(done)/\(ids.count) runs finished, \(stepsDone)/\(stepsTotal) steps  [\(states.joined(separator: " "))]"
                if line != lastLine { print(line); lastLine = line }
                if done == ids.count { break }
                guard ContinuousClock.now < deadline else {
                    throw CLIFailure(message: "the demo runs did not finish within 120 s (last: \(line))")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            var details: [RunDetail] = []
            for id in ids { if let d = try await DemoRuns.detail(client, id) { details.append(d) } }
            return details
        }
        for detail in details {
            print("")
            if global.json { try Output.json(RunDocument(detail)) } else { RunPrinter.print(detail) }
        }
        let failed = details.filter { $0.run.state != .succeeded }
        print("")
        print(failed.isEmpty ? "demo finished: \(details.count) runs succeeded" : "demo finished: \(failed.count) of \(details.count) runs did not succeed")
        if !failed.isEmpty { throw ExitCode(1) }
        if serve {
            print("")
            server.announce(viewer: viewer)
            DemoCommand.serving(server)
            await DemoSignals.untilCancelled()
        }
    }

    private func spawnWorker(url: String, schema: String, index: Int) throws -> Process {
        try DemoWorkers.spawn(url: url, schema: schema, index: index, concurrency: 2, extraEnvironment: [:])
    }
}

enum DemoRuns {
    /// The run, or nil when it is gone.
    static func detail(_ client: KajiClient, _ id: UUID) async throws -> RunDetail? {
        do {
            return try await client.run(id: id)
        } catch let error as KajiError where error.code == .runNotFound {
            return nil
        }
    }
}

enum DemoWorkers {
    /// Starts `kaji worker` as a child process on `url` and `schema` (handed over as `DATABASE_URL` and
    /// `KAJI_SCHEMA`).
    static func spawn(url: String, schema: String, index: Int, concurrency: Int, extraEnvironment: [String: String], log: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.selfPath)
        process.arguments = ["worker", "--concurrency", "\(concurrency)", "--id", "demo-worker-\(index + 1)"]
        var env = ProcessInfo.processInfo.environment
        // The database in the environment, not the arguments: a URL's password would show in the process list.
        env["DATABASE_URL"] = url
        env["KAJI_SCHEMA"] = schema
        env["KAJI_LOG_LEVEL"] = env["KAJI_LOG_LEVEL"] ?? "warning"
        for (key, value) in extraEnvironment { env[key] = value }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
        }
        try process.run()
        return process
    }
}

extension CommandLine {
    /// This executable's path.
    static var selfPath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
