import Foundation
import Logging
import PostgresNIO

/// Every SQL operation of the engine, as small noun-first calls with plain values in and out.
/// All values are bound through postgres-nio's interpolation; the schema comes from `search_path`.
public struct RunStore: Sendable {
    /// The pool, guarded: a statement whose connection closes under it fails instead of hanging.
    public let client: GuardedClient
    public let config: DatabaseConfig
    public let logger: Logger

    public init(client: PostgresClient, config: DatabaseConfig, logger: Logger) {
        self.client = GuardedClient(client)
        self.config = config
        self.logger = logger
    }

    /// The NOTIFY channel of this schema.
    var channel: String { config.notifyChannel }

    /// Runs a statement and returns the first column of the first row, decoded as `T`.
    func scalar<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? {
        let rows = try await client.query(query, logger: logger)
        for try await value in rows.decode(T.self) { return value }
        return nil
    }

    /// Runs a statement whose last SELECT returns a count, e.g. of rows a fenced write touched.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await scalar(query, as: Int.self) ?? 0
    }
}
