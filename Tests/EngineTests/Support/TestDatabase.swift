import Engine
import Foundation
import Logging
import PostgresNIO
import Testing
import Worker

/// A migrated schema of its own on the test PostgreSQL (KAJI_TEST_DATABASE_URL, started by
/// scripts/test.sh), with a connected store. Dropped when the test ends.
struct TestDatabase: Sendable {
    let url: String
    let config: DatabaseConfig
    let store: RunStore
    let logger: Logger

    static var baseURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["KAJI_TEST_DATABASE_URL"], !url.isEmpty else {
                throw TestSetupError("KAJI_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a private PostgreSQL")
            }
            return url
        }
    }

    static func freshConfig(maxConnections: Int = 10) throws -> DatabaseConfig {
        var config = try DatabaseConfig(url: baseURL, schema: "t_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        config.maxConnections = maxConnections
        // Tests that cut connections find this test's own by it.
        config.applicationName = "kaji-\(config.schema)"
        return config
    }

    /// Runs `body` with a fresh migrated schema.
    static func with<T: Sendable>(maxConnections: Int = 10, migrate: Bool = true, _ body: @Sendable (TestDatabase) async throws -> T) async throws -> T {
        let config = try freshConfig(maxConnections: maxConnections)
        var logger = Logger(label: "kaji.test")
        logger.logLevel = ProcessInfo.processInfo.environment["KAJI_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let migrator = Migrator(config: config, logger: logger)
        if migrate { try await migrator.migrate() }
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let db = TestDatabase(url: try baseURL, config: config, store: RunStore(client: client, config: config, logger: logger), logger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body(db)) } catch { result = .failure(error) }
            group.cancelAll()
            return result
        }
        try? await migrator.dropSchema()
        return try result.get()
    }

    /// A client that knows the given workflows.
    func client(_ registry: WorkflowRegistry) -> KajiClient { KajiClient(store: store, catalog: registry.catalog) }

    /// An in-process worker pool, running until the returned handle is stopped.
    func startPool(_ registry: WorkflowRegistry, concurrency: Int = 4, leaseSeconds: Double = 30, id: String? = nil) -> PoolHandle {
        var configuration = WorkerConfiguration(concurrency: concurrency, leaseSeconds: leaseSeconds, pollInterval: .milliseconds(200),
                                                rescueInterval: .milliseconds(300), drainTimeout: .seconds(5), inlineRetryLimit: .seconds(2))
        if let id { configuration.id = id }
        let pool = WorkerPool(configuration: configuration, store: store, registry: registry, logger: logger)
        return PoolHandle(pool: pool, task: Task { try await pool.run() })
    }

    /// Waits until the run reaches a finished state, or fails after `timeout`.
    @discardableResult
    func waitForFinish(_ id: UUID, timeout: Duration = .seconds(30)) async throws -> RunSummary {
        var last: RunSummary?
        try await eventually("run \(id) finishes", timeout: timeout) {
            last = try await store.run(id: id)
            return last?.state.isFinished ?? false
        }
        return try #require(last)
    }

    func scalarInt(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await store.client.query(query, logger: logger).decode(Int.self) { return value }
        return 0
    }
}

struct PoolHandle: Sendable {
    let pool: WorkerPool
    let task: Task<Void, any Error>

    func stop() async throws {
        pool.shutdown()
        try await task.value
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 25 ms until it holds, failing after `timeout`. Waits on outcomes, not on time.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        if ContinuousClock.now >= deadline {
            throw TestSetupError("timed out after \(timeout) waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(25))
    }
}
