import Engine
import Foundation
import Logging
import Provisioner
import Workflows
import Synchronization

/// `kaji demo`: provisions examples/demo.yaml on the simulator, with real PostgreSQL, sshd, worker processes
/// and `kaji serve`: alice applies the manifest through the API, bob approves it there (an approval from the
/// database-direct CLI does not count for a provision), and a viewer token is printed with the server's URL.
struct ClusterDemo {
    let file: String
    let workers: Int
    /// Keep everything running after the provision, until SIGINT or SIGTERM (`--serve`).
    let serve: Bool
    let global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let logger = CLILogging.logger("kaji.demo")
        let clock = ContinuousClock()
        let started = clock.now
        let spec = try ClusterManifest.load(file: file)
        let simulatorPath = try DemoSimulator.executable()  // before anything is started

        var cleanups: [() -> Void] = []
        var ownDatabase = false
        defer { for cleanup in cleanups.reversed() { cleanup() } }

        // 1. PostgreSQL.
        let url: String
        if let given = global.databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !given.isEmpty {
            url = given
        } else {
            Output.info("starting a private PostgreSQL…")
            let server = try PrivatePostgres.start()
            cleanups.append { server.stop() }
            ownDatabase = true
            url = server.url
            Output.info("  PostgreSQL on 127.0.0.1:\(server.port) (data in \(server.directory))")
        }
        var config = try DatabaseConfig(url: url, schema: global.schema ?? "kaji_demo")
        config.maxConnections = 6
        _ = try await KajiClient.migrate(config, logger: logger)
        let schema = config.schema

        // 2. The simulated nodes' sshd and the SAKURA Cloud simulator.
        Output.info("starting a private sshd for the simulated nodes…")
        let sshd = try PrivateSSHD.start()
        cleanups.append { sshd.stop() }
        Output.info("  sshd on 127.0.0.1:\(sshd.port)\(sshd.environment["KAJI_TEST_SSHD_PID"].map { " (pid \($0))" } ?? "")")
        let world = "demo-\(UInt32.random(in: 0...UInt32.max))"
        let token = "demo-token-\(UInt32.random(in: 0...UInt32.max))", secret = "demo-secret-\(UInt64.random(in: 0...UInt64.max))"
        let simulator = try await DemoSimulator.start(executable: simulatorPath, token: token, secret: secret, sshd: sshd, world: world,
                                                      log: sshd.directory + "/sakura-sim.log")
        cleanups.append { simulator.stop() }
        Output.info("  SAKURA Cloud simulator (sakura-sim, pid \(simulator.process.processIdentifier)) on \(simulator.baseURL) (unit profile)")

        // 3. Worker processes, configured as production workers are: through the environment.
        let scratch = sshd.directory + "/demo"
        try FileManager.default.createDirectory(atPath: scratch + "/manifests", withIntermediateDirectories: true)
        let environment: [String: String] = [
            "SAKURACLOUD_ACCESS_TOKEN": token, "SAKURACLOUD_ACCESS_TOKEN_SECRET": secret, "SAKURACLOUD_ZONE": spec.zone,
            "KAJI_SAKURA_BASE_URL": simulator.baseURL, "KAJI_SAKURA_RPS": "0",
            "KAJI_SSH_KEY": sshd.environment["KAJI_TEST_SSH_KEY"] ?? "", "KAJI_SSH_KNOWN_HOSTS": scratch + "/known_hosts",
            "KAJI_NODE_SSH_USER": "root", "KAJI_CLUSTER_POLL_MS": "200",
            "KAJI_KUBE_MANIFEST_DIR": scratch + "/manifests", "KAJI_CNI_MANIFEST": "kube-flannel.yml",
            "KAJI_OWNER_KEYS_FILE": scratch + "/owner_authorized_keys",
            // The API health checker dials each cluster's kube-apiserver stand-in, not its (unroutable) VIP.
            "KAJI_API_ENDPOINT_OVERRIDES": "\(sshd.environment["KAJI_SIM_STATE"] ?? scratch)/\(world)/apiservers.json",
            "KAJI_SECRET_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
        ]
        var processes: [Process] = []
        for index in 0..<workers {
            processes.append(try DemoWorkers.spawn(url: url, schema: config.schema, index: index, concurrency: 8,
                                                   extraEnvironment: environment, log: scratch + "/worker-\(index + 1).log"))
        }
        Output.info("  \(workers) worker processes, pids \(processes.map { String($0.processIdentifier) }.joined(separator: " ")) (logs in \(scratch)/worker-N.log while the demo runs)")
        defer {
            for process in processes where process.isRunning { process.terminate() }
            for process in processes { process.waitUntilExit() }
        }

        // 4. kaji serve beside the workers, and the demo's people as API tokens.
        Output.info("starting kaji serve…")
        let server = try await DemoServe.start(databaseURL: url, schema: schema, extraEnvironment: ["KAJI_SECRET_KEY": environment["KAJI_SECRET_KEY"] ?? ""],
                                               log: scratch + "/serve.log")
        defer { server.stop() }
        // alice asks for the cluster (operator), bob approves it (approver), a viewer looks on.
        let admin = KajiClient.cliActor()
        let (alice, bob, viewer) = try await config.withClient(logger: logger) { client in
            (try await DemoTokens.create(client, "alice", role: .operator, actor: admin),
             try await DemoTokens.create(client, "bob", role: .approver, actor: admin),
             try await DemoTokens.create(client, "demo-viewer", role: .viewer, actor: admin))
        }
        server.announce(viewer: viewer)

        // 5. alice applies the manifest through the API.
        let manifest: String
        do {
            manifest = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw CLIFailure(message: "cannot read \(file): \(error.localizedDescription)")
        }
        let api = server.api
        let report = try await api.apply(manifest: manifest, token: alice.token)
        guard let id = report.runID, let kind = report.plan.kind else {
            throw CLIFailure(message: "cluster \(spec.name) exists already in schema \(schema): \(report.plan.summary)")
        }
        guard report.created != false else {
            throw CLIFailure(message: "cluster \(spec.name) has run \(id) (\(report.runState?.rawValue ?? "?")) from an earlier apply in schema \(schema): run the demo on another schema (--schema)")
        }
        print("\(alice.actor) applies \(file) through kaji serve: \(report.plan.summary)")
        print("enqueued \(kind) run \(id) (concurrency key \(report.plan.concurrencyKey))")
        let (detail, record): (RunDetail, ClusterRecord?) = try await config.withClusters(logger: logger) { clusters in
            // 6. bob approves it through the API once it waits (alice may not approve her own request, and an
            //    approval from the database-direct CLI does not count for a provision).
            let progress = DemoProgress(client: clusters.client, runID: id, started: started)
            try await progress.follow(until: { detail in detail.steps.contains { $0.name == "approval" && $0.state == .waiting } }, timeout: .seconds(60))
            try await api.approve(run: id, reason: "demo plan looks right", token: bob.token)
            print("\(bob.actor) approves run \(id) through kaji serve")
            // 7. Live progress until the run ends.
            let final = try await progress.follow(until: { $0.run.state.isFinished }, timeout: .seconds(240))
            return (final, try await clusters.record(named: spec.name))
        }
        let state = try await SimulatorCounts.read(simulator)
        if !serve { simulator.stop() }

        // 8. The step history, with durations.
        print("")
        RunPrinter.print(detail, events: false)
        print("")
        if !ownDatabase {
            print("(all \(detail.events.count) audit events: kaji show \(id) --schema \(schema))")
        }
        let seconds = (clock.now - started).seconds
        guard detail.run.state == .succeeded else {
            print("demo: run \(id) ended \(detail.run.state.rawValue): \(detail.run.lastError ?? "")")
            throw CLIFailure(message: "the demo cluster was not provisioned (run \(id) \(detail.run.state.rawValue))")
        }
        print(String(format: "demo finished in %.1f s: cluster %@ provisioned, %d nodes (%d control-plane), %d servers, %d disks, %d switch on the simulator",
                     seconds, spec.name, record?.nodes.count ?? 0, record?.nodes.filter { $0.role == .master }.count ?? 0,
                     state.servers, state.disks, state.switches))
        if let endpoint = record?.apiEndpoint { print("API endpoint: \(endpoint)") }
        if let node = record?.nodes.first { print("owners reached the nodes over SSH with their keys, e.g. \(node.sshUser)@\(node.sshHost) -p \(node.sshPort) (\(node.name))") }
        guard serve else {
            print("the demo stops everything it started as it exits (kaji demo --serve keeps it running)")
            return
        }
        print("")
        server.announce(viewer: viewer)
        print("  the provision: \(server.url)/api/v1/runs/\(id.uuidString.lowercased()), the cluster: \(server.url)/api/v1/clusters/\(spec.name)")
        DemoCommand.serving(server)
        await DemoSignals.untilCancelled()
    }
}

/// Follows a run's steps and prints each change as it happens.
struct DemoProgress {
    let client: KajiClient
    let runID: UUID
    let started: ContinuousClock.Instant
    private let printer: ProgressPrinter

    init(client: KajiClient, runID: UUID, started: ContinuousClock.Instant) {
        self.client = client
        self.runID = runID
        self.started = started
        self.printer = ProgressPrinter(started: started)
    }

    @discardableResult
    func follow(until done: (RunDetail) -> Bool, timeout: Duration) async throws -> RunDetail {
        let deadline = ContinuousClock.now + timeout
        while true {
            let detail = try await client.run(id: runID)
            report(detail)
            if done(detail) || detail.run.state.isFinished { return detail }
            guard ContinuousClock.now < deadline else {
                throw CLIFailure(message: "the demo run did not get there within \(Int(timeout.seconds)) s (state \(detail.run.state.rawValue))")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    private func report(_ detail: RunDetail) {
        printer.run(detail.run.state)
        for step in detail.steps { printer.step(RunDocument.Step(step)) }
    }
}

/// Prints a run's progress as `kaji watch` and `kaji demo` show it: a line when the run's state changes,
/// one when a step's does, each after the time since `started`.
final class ProgressPrinter: Sendable {
    let started: ContinuousClock.Instant
    private let seen = Mutex<(run: RunState?, steps: [String: StepState])>((nil, [:]))

    init(started: ContinuousClock.Instant) {
        self.started = started
    }

    private var elapsed: String { String(format: "[%6.1fs]", (ContinuousClock.now - started).seconds) }

    func run(_ state: RunState) {
        let changed = seen.withLock { seen in
            defer { seen.run = state }
            return seen.run != state
        }
        if changed { emit("\(elapsed) run \(state.rawValue)") }
    }

    /// One line, written out at once: progress is live when stdout is a pipe or a file too.
    private func emit(_ line: String) {
        print(line)
        fflush(nil)
    }

    func step(_ step: RunDocument.Step) {
        let changed = seen.withLock { seen in
            defer { seen.steps[step.name] = step.state }
            return seen.steps[step.name] != step.state
        }
        guard changed else { return }
        var line = "\(elapsed)   \(step.name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(step.state.rawValue)"
        if step.state == .succeeded, let ms = step.durationMs { line += " in \(Output.duration(ms: ms))" }
        if step.attempts > 1 { line += " (attempt \(step.attempts))" }
        if let error = step.error, step.state != .succeeded { line += ": \(error.prefix(100))" }
        emit(line)
    }

    /// A change as a follower of the run's events sees it.
    func change(_ change: RunChange) {
        run(change.run.state)
        if let step = change.step { self.step(step) }
    }
}

/// Resources on the simulator, from its state.
struct SimulatorCounts: Sendable {
    var servers = 0, disks = 0, switches = 0

    static func read(_ simulator: DemoSimulator) async throws -> SimulatorCounts {
        let state = try await simulator.state()
        func count(_ key: String) -> Int { state[key]?.arrayValue?.count ?? 0 }
        return SimulatorCounts(servers: count("Servers"), disks: count("Disks"), switches: count("Switches"))
    }
}
