import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The connection pool, as the store uses it: every statement fails (`ConnectionLost`) when its connection
/// closes under it, instead of hanging.
///
/// Why: postgres-nio 1.33 sends a query by writing it into the connection's channel without a write promise.
/// Once the channel has closed (the server restarted, crashed or terminated the backend), NIO has removed the
/// connection's handler, and a query written then is dropped: its promise is never completed and the caller
/// waits for good. The pool can lend such a connection in the moment between the close and its noticing it,
/// and a query already queued on a connection that closes can meet the same fate. Here each statement runs
/// in a task of its own, raced against the close of its connection: whichever comes first answers. A
/// statement abandoned that way keeps its (closed) connection object until the process ends, which costs a
/// little memory once per lost connection, not a stuck worker.
///
/// Rows are read in full before the connection goes back to the pool (the store's results are small and
/// bounded by their queries' limits), so a caller reading slowly never holds a connection.
public struct GuardedClient: Sendable {
    /// The underlying pool; run it (`run()`) for the client's lifetime.
    public let pool: PostgresClient

    public init(_ pool: PostgresClient) {
        self.pool = pool
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> BufferedRows<PostgresRow> {
        try await withGuardedConnection { connection in
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return BufferedRows(rows)
        }
    }

    /// Runs a prepared statement (prepared once per connection) and returns its decoded rows.
    public func execute<Statement: PostgresPreparedStatement & Sendable>(_ statement: Statement, logger: Logger) async throws -> BufferedRows<Statement.Row>
    where Statement.Row: Sendable {
        try await withGuardedConnection { connection in
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return BufferedRows(rows)
        }
    }

    /// Runs `body` in one transaction (BEGIN … COMMIT, ROLLBACK when it throws) on one connection.
    public func withTransaction<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withGuardedConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
        }
    }

    /// Lends one connection to `body`, guarded as a whole: if the connection closes first, this throws
    /// `ConnectionLost` at once and `body` is abandoned.
    public func withGuardedConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        // A connection that is closed already when it is lent has been sent nothing: take another. The pool
        // hears of the close on the connection's event loop, and may lend the same connection again until
        // it has, so each further try waits a little longer.
        for pause in [0, 5, 20, 50, 100, 250, 500] {
            if pause > 0 { try await Task.sleep(for: .milliseconds(pause)) }
            let outcome: Lent<T> = try await pool.withConnection { connection in
                if connection.isClosed { return .closedBeforeUse }
                return .value(try await CloseWatch.shared.race(connection) { try await body(connection) })
            }
            if case .value(let value) = outcome { return value }
        }
        throw ConnectionLost(beforeUse: true)
    }

    private enum Lent<T: Sendable>: Sendable {
        case value(T)
        case closedBeforeUse
    }
}

/// A statement's connection closed before it answered. The statement may or may not have reached the
/// server (`beforeUse` says it surely did not).
public struct ConnectionLost: Error, CustomStringConvertible, Sendable {
    public let beforeUse: Bool
    public var description: String {
        beforeUse ? "the database connection was closed (the server restarted or dropped it)"
                  : "the database connection closed before the statement answered (the server restarted or dropped it)"
    }
}

/// Rows read in full, iterated like postgres-nio's row sequence.
public struct BufferedRows<Element: Sendable>: AsyncSequence, Sendable {
    public let rows: [Element]

    init(_ rows: [Element]) { self.rows = rows }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        public mutating func next() async throws -> Element? { base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator()) }
}

extension BufferedRows where Element == PostgresRow {
    /// Decodes each row's columns as the given types, as `PostgresRowSequence.decode` does.
    public func decode<each Column: PostgresDecodable>(_ columnType: (repeat each Column).Type, file: String = #fileID, line: Int = #line)
    -> AsyncThrowingMapSequence<BufferedRows<PostgresRow>, (repeat each Column)> {
        self.map { row in try row.decode((repeat each Column).self, file: file, line: line) }
    }
}

/// Fails the statements in flight on a connection when it closes. One close callback per connection, not
/// one per statement (a callback on a future that completes only at the close would pile up otherwise).
final class CloseWatch: Sendable {
    static let shared = CloseWatch()

    private struct State {
        /// Per open connection (by object: connection IDs are numbered per pool, and a process has many
    /// pools): what waits for its answer, to be failed if it closes first.
        var connections: [ObjectIdentifier: [UInt64: @Sendable () -> Void]] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Runs `work`, answering with its result or with `ConnectionLost` once `connection` closes, whichever
    /// comes first. `work` runs in a task of its own and is not waited for after the close.
    func race<T: Sendable>(_ connection: PostgresConnection, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Mutex(false)
        let claim: @Sendable () -> Bool = {
            settled.withLock { done in
                if done { return false }
                done = true
                return true
            }
        }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let onClose: @Sendable () -> Void = {
                if claim() { continuation.resume(throwing: ConnectionLost(beforeUse: false)) }
            }
            let waiter = add(onClose, to: connection)
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await work()) } catch { result = .failure(error) }
                // Claimed before the waiter goes: a close from now on cannot turn a finished statement into a lost one.
                if claim() { continuation.resume(with: result) }
                self.remove(waiter, from: ObjectIdentifier(connection))
            }
        }
    }

    /// Registers `onClose` for `connection`; the first registration for a connection hooks its close. A
    /// connection closed already (and forgotten) is hooked again, and its close future fires at once.
    private func add(_ onClose: @escaping @Sendable () -> Void, to connection: PostgresConnection) -> UInt64 {
        let (waiter, firstSight) = state.withLock { state -> (UInt64, Bool) in
            state.nextWaiter &+= 1
            let firstSight = state.connections[ObjectIdentifier(connection)] == nil
            state.connections[ObjectIdentifier(connection), default: [:]][state.nextWaiter] = onClose
            return (state.nextWaiter, firstSight)
        }
        if firstSight {
            let id = ObjectIdentifier(connection)
            connection.closeFuture.whenComplete { _ in self.closed(id) }
        }
        return waiter
    }

    private func remove(_ waiter: UInt64, from id: ObjectIdentifier) {
        state.withLock { state in _ = state.connections[id]?.removeValue(forKey: waiter) }
    }

    /// The connection closed: fail what waits on it, and forget it.
    private func closed(_ id: ObjectIdentifier) {
        let waiters = state.withLock { state in state.connections.removeValue(forKey: id).map { Array($0.values) } ?? [] }
        for waiter in waiters { waiter() }
    }
}

extension PostgresConnection {
    /// Runs one statement on this connection (one outside the pool), failing with `ConnectionLost` when the
    /// connection closes before it answers instead of hanging.
    public func guardedQuery(_ query: PostgresQuery, logger: Logger) async throws -> BufferedRows<PostgresRow> {
        if isClosed { throw ConnectionLost(beforeUse: true) }
        return try await CloseWatch.shared.race(self) {
            var rows: [PostgresRow] = []
            for try await row in try await self.query(query, logger: logger) { rows.append(row) }
            return BufferedRows(rows)
        }
    }
}

extension PostgresConnection {
    /// LISTENs on `channel` and hands the notifications to `consume` until it returns, the connection closes
    /// (`ConnectionLost`) or the calling task is cancelled (the connection is closed then, which ends it).
    public func guardedListen(on channel: String, _ consume: @escaping @Sendable (PostgresNotificationSequence) async throws -> Void) async throws {
        if isClosed { throw ConnectionLost(beforeUse: true) }
        try await withTaskCancellationHandler {
            try await CloseWatch.shared.race(self) { try await self.listen(on: channel, consume: consume) }
        } onCancel: {
            self.close().whenComplete { _ in }
        }
    }
}
