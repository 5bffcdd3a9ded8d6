import Engine
import Foundation
import Logging
import Provisioner
import Workflows
import Synchronization

/// `kaji demo`: provisions examples/demo.yaml on the simulator, with real PostgreSQL, sshd and worker processes.
struct ClusterDemo {
    let file: String
    let workers: Int
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
        Output.info("  sshd on 127.0.0.1:\(sshd.port)")
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
            "KAJI_SECRET_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
        ]
        var processes: [Process] = []
        for index in 0..<workers {
            processes.append(try DemoWorkers.spawn(url: url, schema: config.schema, index: index, concurrency: 8,
                                                   extraEnvironment: environment, log: scratch + "/worker-\(index + 1).log"))
        }
        Output.info("  \(workers) worker processes (logs in \(scratch)/worker-N.log while the demo runs)")
        defer {
            for process in processes where process.isRunning { process.terminate() }
            for process in processes { process.waitUntilExit() }
        }

        let requester = "cli:alice@demo", approver = "cli:bob@demo"
        let (id, detail, record): (UUID, RunDetail, ClusterRecord?) = try await config.withClusters(logger: logger) { clusters in
            let client = clusters.client
            // 4. Apply the manifest as alice.
            let plan = try await clusters.plan(spec)
            guard let kind = plan.kind, let input = plan.input else {
                throw CLIFailure(message: "cluster \(spec.name) exists already in schema \(schema): \(plan.summary)")
            }
            print("\(requester) applies \(file): \(plan.summary)")
            let enqueued = try await client.enqueue(EnqueueRequest(kind: kind, input: input, idempotencyKey: plan.idempotencyKey,
                                                                   concurrencyKey: plan.concurrencyKey, actor: requester))
            print("enqueued \(kind) run \(enqueued.id) (concurrency key \(plan.concurrencyKey))")
            // 5. Bob approves it once it waits for approval (alice may not approve her own request).
            let progress = DemoProgress(client: client, runID: enqueued.id, started: started)
            try await progress.follow(until: { detail in detail.steps.contains { $0.name == "approval" && $0.state == .waiting } }, timeout: .seconds(60))
            try await client.decide(runID: enqueued.id, approved: true, reason: "demo plan looks right", sender: approver)
            print("\(approver) approves run \(enqueued.id)")
            // 6. Live progress until the run ends.
            let final = try await progress.follow(until: { $0.run.state.isFinished }, timeout: .seconds(240))
            let record = try await clusters.record(named: spec.name)
            return (enqueued.id, final, record)
        }
        let state = try await SimulatorCounts.read(simulator)
        simulator.stop()

        // 7. The step history, with durations.
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
        if let node = record?.nodes.first { print("owners reached the nodes over SSH with their keys, e.g. \(node.sshUser)@\(node.sshHost) -p \(node.sshPort) (\(node.name)); everything the demo started is stopped now") }
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
