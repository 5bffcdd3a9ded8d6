import Foundation
import Logging
import PostgresNIO

/// Every SQL operation of the engine, as small noun-first calls with plain values in and out, one file per
/// concept (`RunStore+Claim`, `+Steps`, `+Completion`, `+Waits`, …). All values are bound through
/// postgres-nio's interpolation; the schema comes from `search_path` and lives only in `Migrations/`.
package struct RunStore: Sendable {
    /// The pool, guarded: a statement whose connection closes under it fails instead of hanging.
    package let client: GuardedClient
    package let config: DatabaseConfig
    package let logger: Logger

    package init(client: PostgresClient, config: DatabaseConfig, logger: Logger) {
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

    /// Runs a statement on `connection` when given (joining its transaction, e.g. a fenced one), else on
    /// a pooled connection.
    @discardableResult
    func query(_ query: PostgresQuery, on connection: PostgresConnection?) async throws -> BufferedRows<PostgresRow> {
        if let connection { return try await connection.guardedQuery(query, logger: logger) }
        return try await client.query(query, logger: logger)
    }

    /// Runs `body` in one transaction on one pooled connection; rethrows the body's own error (not
    /// postgres-nio's wrapper), so that `KajiError`s keep their code.
    func inTransactionUnwrapped<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError { throw inner }
            if let commit = error.commitError { throw commit }
            if let begin = error.beginError { throw begin }
            throw error
        }
    }
}

extension PostgresQuery.StringInterpolation {
    /// A value of a closed set (an audit event type, a step attempt's outcome) as a SQL literal in the
    /// statement's text, as a prepared statement writes it (`sqlLiteral`), rather than as a bind.
    mutating func appendInterpolation<Value: StoredEnum>(literal value: Value) {
        appendLiteral(value.sqlLiteral)
    }
}

/// The statements on the hot path (claim, step checkpoints, completion) as named prepared statements: each
/// connection plans them once instead of on every call (planning was about half of their server time).
/// Every parameter is cast to the type its Swift value is sent as. Each statement lives in the file of its
/// concept (`HotStatements.Claim` in `RunStore+Claim`, …); the lease fence they share in `RunStore+Fenced`.
enum HotStatements {}
