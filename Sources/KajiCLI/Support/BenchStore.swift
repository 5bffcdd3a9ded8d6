import Engine
import Logging
import PostgresNIO

extension DatabaseConfig {
    /// Runs `body` with a connected store: only for `kaji bench`, whose harness measures the store itself
    /// (claims on an empty queue, a synthetic finished history, live workers). Every other command goes
    /// through `KajiClient` (`withClient`).
    func withStore<T: Sendable>(logger: Logger, _ body: @Sendable (RunStore) async throws -> T) async throws -> T {
        try await checkReachable(logger: logger)
        var logger = logger
        logger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: clientConfiguration(), backgroundLogger: logger)
        let store = RunStore(client: client, config: self, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            do {
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
