import Engine
import Foundation
import KajiTesting
import Logging
import PostgresNIO

extension TestDatabase {
    /// Runs `body` with a migrated schema on a private server of its own, stopped afterwards.
    static func withPrivateServer<T: Sendable>(_ body: @Sendable (TestDatabase, PrivateServer) async throws -> T) async throws -> T {
        let server = try await PrivateServer.start()
        var config = try DatabaseConfig(url: server.url, schema: "kaji")
        config.applicationName = "kaji-private"
        var logger = Logger(label: "kaji.test")
        logger.logLevel = ProcessInfo.processInfo.environment["KAJI_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        do {
            try await Migrator(config: config, logger: logger).migrate()
        } catch {
            await server.stop()
            throw error
        }
        let client = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let db = TestDatabase(url: server.url, config: config, store: RunStore(client: client, config: config, logger: logger), logger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let result: Result<T, any Error>
            do { result = .success(try await body(db, server)) } catch { result = .failure(error) }
            group.cancelAll()
            return result
        }
        await server.stop()
        return try result.get()
    }
}
