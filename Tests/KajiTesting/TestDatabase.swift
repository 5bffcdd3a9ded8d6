import Engine
import Foundation
import Logging
import PostgresNIO
import Worker

/// A migrated schema of its own on the test PostgreSQL (`KAJI_TEST_DATABASE_URL`, started by
/// `scripts/test.sh`), or on a private server, with a connected store. Dropped when the test ends.
package struct TestDatabase: Sendable {
    /// The server's URL (without the schema).
    package let url: String
    package let config: DatabaseConfig
    package let store: RunStore
    package let logger: Logger

    /// `KAJI_TEST_DATABASE_URL`; throws, saying how to set it, when unset.
    package static var baseURL: String {
        get throws {
            guard let url = TestEnvironment.databaseURL else {
                throw KajiTestingError("KAJI_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a private PostgreSQL, or eval \"$(scripts/start-pg.sh DIR)\"")
            }
            return url
        }
    }

    /// A configuration for a fresh schema (`t_` and a random number) on `url` (default: the test server).
    package static func freshConfig(url: String? = nil, maxConnections: Int = 10) throws -> DatabaseConfig {
        var config = try DatabaseConfig(url: url ?? baseURL, schema: "t_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        config.maxConnections = maxConnections
        // Tests that cut connections find this test's own by it.
        config.applicationName = "kaji-\(config.schema)"
        return config
    }

    /// A logger at `KAJI_TEST_LOG_LEVEL` (default critical).
    package static func testLogger(_ label: String = "kaji.test") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = TestEnvironment.logLevel
        return logger
    }

    /// Runs `body` with a fresh migrated schema, dropped afterwards.
    /// - Parameters:
    ///   - url: another PostgreSQL server than the suite's (a test's private one).
    ///   - migrate: false leaves the schema to the test (it is dropped all the same).
    ///   - storeLogger: the store's logger (default: one at `KAJI_TEST_LOG_LEVEL`).
    package static func with<T: Sendable>(
        url: String? = nil, maxConnections: Int = 10, migrate: Bool = true, storeLogger: Logger? = nil,
        _ body: @Sendable (TestDatabase) async throws -> T
    ) async throws -> T {
        let url = try url ?? baseURL
        let config = try freshConfig(url: url, maxConnections: maxConnections)
        return try await withSchema(url: url, config: config, migrate: migrate, storeLogger: storeLogger, body)
    }

    /// Runs `body` with a migrated schema on a private server of its own (`PrivateServer`), stopped afterwards.
    package static func withPrivateServer<T: Sendable>(_ body: @Sendable (TestDatabase, PrivateServer) async throws -> T) async throws -> T {
        let server = try await PrivateServer.start()
        let result: Result<T, any Error>
        do {
            var config = try DatabaseConfig(url: server.url, schema: "kaji")
            config.applicationName = "kaji-private"
            result = .success(try await withSchema(url: server.url, config: config, migrate: true, dropSchema: false) { db in try await body(db, server) })
        } catch {
            result = .failure(error)
        }
        await server.stop()
        return try result.get()
    }

    private static func withSchema<T: Sendable>(
        url: String, config: DatabaseConfig, migrate: Bool, dropSchema: Bool = true, storeLogger: Logger? = nil,
        _ body: @Sendable (TestDatabase) async throws -> T
    ) async throws -> T {
        let logger = testLogger()
        let migrator = Migrator(config: config, logger: logger)
        if migrate { try await migrator.migrate() }
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let storeLogger = storeLogger ?? logger
        let db = TestDatabase(url: url, config: config, store: RunStore(client: client, config: config, logger: storeLogger), logger: storeLogger)
        // The client runs in a task of its own, so that a client that does not shut down (a connection still
        // lent to an abandoned statement) fails the test with a reason instead of hanging it.
        let running = Task { await client.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body(db)) } catch { result = .failure(error) }
        running.cancel()
        let shutDown: Bool? = try? await withDeadline(.seconds(60)) { await running.value; return true }
        if dropSchema { try? await migrator.dropSchema() }
        if case .success = result, shutDown == nil {
            throw KajiTestingError("the test's PostgreSQL client did not shut down within 60 s of the test's end")
        }
        return try result.get()
    }

    /// `--database-url URL --schema S` for a `kaji` process working on this schema.
    package var cliArguments: [String] { ["--database-url", url, "--schema", config.schema] }

    /// A client that knows the given workflows.
    package func client(_ registry: WorkflowRegistry) -> KajiClient { KajiClient(store: store, catalog: registry.catalog) }

    /// An in-process worker pool, running until the returned handle is stopped.
    /// - Parameter store: another store on this schema (one with a client of its own).
    package func startPool(_ registry: WorkflowRegistry, concurrency: Int = 4, leaseSeconds: Double = 30,
                           pollInterval: Duration = .milliseconds(200), id: String? = nil, store: RunStore? = nil) -> PoolHandle {
        var configuration = WorkerConfiguration(concurrency: concurrency, leaseSeconds: leaseSeconds, pollInterval: pollInterval,
                                                rescueInterval: .milliseconds(300), drainTimeout: .seconds(5), inlineRetryLimit: .seconds(2))
        if let id { configuration.id = id }
        let pool = WorkerPool(configuration: configuration, store: store ?? self.store, registry: registry, logger: logger)
        return PoolHandle(pool: pool, task: Task { try await pool.run() })
    }

    /// Waits until the run reaches a finished state, or throws after `timeout`.
    @discardableResult
    package func waitForFinish(_ id: UUID, timeout: Duration = .seconds(30)) async throws -> RunSummary {
        let store = self.store
        var last: RunSummary?
        try await eventually("run \(id) finishes", timeout: timeout) {
            // Tests that kill connections of the pool this store shares can fail a read here: look again.
            do { last = try await store.run(id: id) } catch where DatabaseConfig.isTransient(error) { return false }
            return last?.state.isFinished ?? false
        }
        guard let last else { throw KajiTestingError("run \(id) vanished") }
        return last
    }

    /// The first column of the first row of `query` as an integer (0 without rows).
    package func scalarInt(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await store.client.query(query, logger: logger).decode(Int.self) { return value }
        return 0
    }

    /// Starts a `kaji worker` process on this schema.
    package func spawnWorker(concurrency: Int = 4, leaseSeconds: Double = 30, drainSeconds: Double = 10,
                             environment: [String: String] = [:], id: String? = nil) throws -> KajiProcess {
        var args = ["worker", "--concurrency", "\(concurrency)", "--lease-seconds", "\(leaseSeconds)", "--drain-seconds", "\(drainSeconds)"] + cliArguments
        if let id { args += ["--id", id] }
        return try KajiProcess(args, environment: environment)
    }
}

/// An in-process worker pool until `stop()`.
package struct PoolHandle: Sendable {
    package let pool: WorkerPool
    package let task: Task<Void, any Error>

    package init(pool: WorkerPool, task: Task<Void, any Error>) {
        self.pool = pool
        self.task = task
    }

    /// Shuts the pool down (it drains) and waits for it: at most `timeout`, then fails saying where the pool
    /// stands (a pool that never stops would otherwise hang the test past every deadline, silently).
    package func stop(timeout: Duration = .seconds(120)) async throws {
        pool.shutdown()
        let task = self.task
        guard try await withDeadline(timeout, { try await task.value }) != nil else {
            throw KajiTestingError("the worker pool did not stop within \(timeout) of its shutdown: \(pool.phase)")
        }
    }
}
