import Foundation
import PostgresNIO

/// Identifies the lease a write is made under. A write is refused unless the run is still `running`,
/// owned by this worker under this epoch and this claim's token (see `LeaseFence`).
public struct LeaseToken: Sendable, Hashable {
    public var runID: UUID
    public var epoch: Int64
    public var worker: String
    public var token: UUID

    public init(runID: UUID, epoch: Int64, worker: String, token: UUID) {
        self.runID = runID
        self.epoch = epoch
        self.worker = worker
        self.token = token
    }

    /// The lease a claim handed to `worker`.
    public init(_ claim: ClaimedRun, worker: String) {
        self.init(runID: claim.id, epoch: claim.epoch, worker: worker, token: claim.token)
    }

    var actor: String { "worker:\(worker)" }
}

/// The fence of every write made under a lease, for a query on `runs`: the run is still `running`, owned by
/// the lease's worker under its epoch and claim token. Written once, here: ad-hoc queries take it through
/// `appendInterpolation(fence:)`, the prepared statements through `HotStatements.fence`.
enum LeaseFence {
    /// One value of the lease the fence compares.
    enum Value {
        case runID, epoch, owner, token

        /// The PostgreSQL type the value is sent as.
        var type: String {
            switch self {
            case .runID, .token: "uuid"
            case .epoch: "int8"
            case .owner: "text"
            }
        }
    }

    /// `column = value` terms, joined with AND, then `condition`.
    static let terms: [(column: String, value: Value)] = [("id", .runID), ("epoch", .epoch), ("lease_owner", .owner), ("claim_token", .token)]
    static let condition = "state = '\(RunState.running.rawValue)'"
}

extension PostgresQuery.StringInterpolation {
    /// The lease fence (`LeaseFence`) of an ad-hoc query on `runs`, each value bound.
    mutating func appendInterpolation(fence lease: LeaseToken) {
        for (column, value) in LeaseFence.terms {
            appendLiteral("\(column) = ")
            switch value {
            case .runID: appendInterpolation(lease.runID)
            case .epoch: appendInterpolation(lease.epoch)
            case .owner: appendInterpolation(lease.worker)
            case .token: appendInterpolation(lease.token)
            }
            appendLiteral(" AND ")
        }
        appendLiteral(LeaseFence.condition)
    }
}

extension HotStatements {
    /// The lease fence (`LeaseFence`) of a prepared statement, given the placeholders of the run id, epoch,
    /// owner and claim token.
    static func fence(id: String, epoch: String, owner: String, token: String) -> String {
        let terms = LeaseFence.terms.map { column, value in
            let placeholder = switch value {
            case .runID: id
            case .epoch: epoch
            case .owner: owner
            case .token: token
            }
            return "\(column) = \(placeholder)::\(value.type)"
        }
        return (terms + [LeaseFence.condition]).joined(separator: " AND ")
    }
}

extension RunStore {
    /// Runs `body` in one transaction that first takes the run's fence (`LeaseFence`: still `running`, owned
    /// by this worker under the lease's epoch and claim token), and its row stays share-locked until the
    /// transaction ends, so no one can take the run over (rescue, cancel, finish) while `body` writes.
    /// Throws `leaseLost` and runs nothing when the fence does not hold. Whatever `body` writes on the
    /// connection it is given commits with the fence or not at all; `body`'s own error rolls it back and is
    /// rethrown unchanged.
    package func fenced<T: Sendable>(_ lease: LeaseToken, step: String? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await inTransactionUnwrapped { connection in
            let fence: PostgresQuery = """
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
                """
            var held = false
            for try await _ in try await connection.query(fence, logger: logger).decode(UUID.self) { held = true }
            guard held else {
                let what = step.map { "step '\($0)' of run \(lease.runID)" } ?? "run \(lease.runID)"
                throw KajiError(.leaseLost, "\(what) is no longer held under epoch \(lease.epoch): its write was refused")
            }
            return try await body(connection)
        }
    }

    /// Whether the lease is still held and has time left (a step may call this before a side effect it must
    /// not repeat): owner, claim token and epoch match, and the lease has not run out.
    package func holdsLease(_ lease: LeaseToken) async throws -> Bool {
        try await count("SELECT count(*) FROM runs WHERE \(fence: lease) AND lease_expires_at > now()") == 1
    }
}
