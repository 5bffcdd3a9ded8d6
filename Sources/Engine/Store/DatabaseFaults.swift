import Foundation
import NIOCore
import PostgresNIO

/// A transient database error inside one of the engine's own writes (a checkpoint, a wait, a signal, an
/// outcome): the connection dropped, the server shut down or restarted, a statement timed out, a
/// serialization failure or deadlock. It is not the workflow's fault: the attempt is abandoned and the run
/// resumed later (its lease released or left to expire). It never counts as a step failure, never fails a
/// run and never starts compensation.
public struct EngineFault: Error, CustomStringConvertible, Sendable {
    /// What the engine was doing ("recording step 'create-switch' as started").
    public let operation: String
    /// The database's message, without any parameter values.
    public let message: String

    public var description: String { "database error while \(operation): \(message)" }
}

extension DatabaseConfig {
    /// Whether `error` is a database fault that may go away by itself (connection lost, server shutting
    /// down or restarting, statement timeout, serialization failure, deadlock, out of resources), as
    /// opposed to an error in the statement or the data, which would repeat.
    public static func isTransient(_ error: any Error) -> Bool {
        if let kaji = error as? KajiError { return kaji.code == .databaseUnavailable }
        if error is ConnectionLost { return true }
        guard let psql = error as? PSQLError else { return error is ChannelError || error is IOError }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled:
            return true
        case .server:
            // SQLSTATE classes: 08 connection exception, 40 transaction rollback (serialization failure,
            // deadlock), 53 insufficient resources, 57 operator intervention (admin shutdown 57P01, crash
            // shutdown, cannot connect now, statement timeout 57014), 58 system error.
            guard let state = psql.serverInfo?[.sqlState] else { return false }
            return ["08", "40", "53", "57", "58"].contains(String(state.prefix(2)))
        default:
            return false
        }
    }
}

/// How long one of the engine's own writes may take before it counts as a database fault.
let engineWriteTimeout: Duration = .seconds(30)

/// Runs one engine write for a run's execution: a transient database error becomes an `EngineFault`
/// (noted on `control`, so the executor abandons the attempt whichever error reaches it first); anything
/// else passes through unchanged.
///
/// Each call is bounded (`engineWriteTimeout`): a query that lands on a connection the server just dropped
/// can hang for good, and the run would hang with it, holding its slot; past the bound it is a fault too.
func engineCall<T: Sendable>(_ control: RunControl, _ operation: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    do {
        guard let value = try await withDeadline(engineWriteTimeout, body) else {
            throw KajiError(.databaseUnavailable, "no answer within \(engineWriteTimeout)")
        }
        return value
    } catch {
        // A run whose task was cancelled (cancel, drain, lost lease) sees its in-flight query fail: that is
        // the cancel's doing, not a fault.
        guard !Task.isCancelled, DatabaseConfig.isTransient(error) else { throw error }
        let fault = EngineFault(operation: operation(), message: DatabaseConfig.describe(error))
        control.noteEngineFault(fault)
        throw fault
    }
}
