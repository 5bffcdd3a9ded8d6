import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Worker
import Workflows

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker process: claim runs and execute them until SIGTERM.",
        discussion: """
            Several worker processes, on one machine or many, share one database. SIGTERM or SIGINT drains: \
            no new claims; running steps finish within --drain-seconds or their runs are given back; then exit 0.
            """
    )

    @Option(name: .long, help: "Runs executed at once (default 10).")
    var concurrency: Int = 10

    @Option(name: .long, help: "Comma-separated queues to claim from (default: default).")
    var queues: String = "default"

    @Option(name: .long, help: "Lease length in seconds, renewed every third of it while a run is busy (default 30).")
    var leaseSeconds: Double = 30

    @Option(name: .long, help: "On SIGTERM, seconds running steps may take before their runs are given back (default 30).")
    var drainSeconds: Double = 30

    @Option(name: .long, help: "Worker id (default HOST:PID:RANDOM).")
    var id: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency \(concurrency) is out of range (1...1000)") }
        guard leaseSeconds >= 1, leaseSeconds <= 3600 else { throw ValidationError("--lease-seconds \(leaseSeconds) is out of range (1...3600)") }
        guard drainSeconds >= 0, drainSeconds <= 3600 else { throw ValidationError("--drain-seconds \(drainSeconds) is out of range (0...3600)") }
        guard !parsedQueues.isEmpty else { throw ValidationError("--queues must name at least one queue") }
    }

    var parsedQueues: [String] {
        queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .info)
        let logger = CLILogging.logger("kaji.worker")
        var config = try global.databaseConfig()
        config.maxConnections = max(4, concurrency + 4)
        try await KajiClient.requireCurrentSchema(config, logger: logger)
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        var workerConfig = WorkerConfiguration(queues: parsedQueues, concurrency: concurrency, leaseSeconds: leaseSeconds,
                                               drainTimeout: .milliseconds(Int64(drainSeconds * 1000)))
        if let id { workerConfig.id = id }
        // The cluster workflows get working services when the environment configures the cloud and Kaji's
        // SSH key (SAKURACLOUD_ACCESS_TOKEN, KAJI_SSH_KEY, …: see ClusterWorkerEnvironment).
        let environment = ProcessInfo.processInfo.environment
        let registry = try BuiltinWorkflows.workerRegistry(database: client, environment: environment, logger: logger)
        if registry.kinds.contains(ClusterKinds.provision) {
            logger.info("cluster workflows configured", metadata: ["zone": "\(environment["SAKURACLOUD_ZONE"] ?? "is1a")"])
        } else {
            logger.info("SAKURACLOUD_ACCESS_TOKEN is not set: this worker leaves cluster runs to workers that can run them")
        }
        let pool = WorkerPool(configuration: workerConfig, database: client, config: config, registry: registry, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client),
            .init(service: pool, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        // The API health checker of the zone's ready clusters (KAJI_HEALTH_*: see ClusterHealthSettings).
        if let health = try ClusterHealthSettings.fromEnvironment(environment, checker: "worker:\(workerConfig.id)") {
            services.append(.init(service: ClusterHealthChecker(
                client: KajiClient(postgres: client, config: config, catalog: BuiltinWorkflows.catalog, logger: logger),
                inventory: ClusterInventory(client: client, logger: logger), settings: health, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        let running = Task { try await group.run() }
        // The pool drains first; then the database client closes its connections. A connection the server
        // dropped (a restart) can keep that from ever ending, so once the pool has stopped the process waits
        // a few seconds for the client, not forever.
        await withTaskGroup(of: Void.self) { waiters in
            waiters.addTask { await pool.waitUntilStopped() }
            waiters.addTask { _ = try? await running.value }
            await waiters.next()
            waiters.cancelAll()
        }
        if try await withDeadline(.seconds(10), { try await running.value }) == nil {
            logger.warning("the database client did not close its connections within 10 s; exiting anyway")
        }
    }
}
