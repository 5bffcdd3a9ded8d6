import Foundation
import PostgresNIO

/// A step checkpoint as the executor needs it to resume.
public struct StepCheckpoint: Sendable {
    public var state: StepState
    public var attempts: Int
    public var budgetStart: Int
    public var result: String?
    /// For a wait: its record (deadline, polls, last observation) as JSON text.
    public var wait: String?
}

/// Identifies the lease a write is made under. A write is refused unless the run is still `running`,
/// owned by this worker under this epoch and this claim's token (see `appendInterpolation(fence:)`).
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

extension PostgresQuery.StringInterpolation {
    /// The fence of every write made under a lease, for a query on `runs`: the run is still `running`,
    /// owned by the lease's worker under its epoch and claim token. The one place this predicate is written
    /// for ad-hoc queries (the prepared statements use `HotStatements.fence`).
    mutating func appendInterpolation(fence lease: LeaseToken) {
        appendLiteral("id = ")
        appendInterpolation(lease.runID)
        appendLiteral(" AND epoch = ")
        appendInterpolation(lease.epoch)
        appendLiteral(" AND lease_owner = ")
        appendInterpolation(lease.worker)
        appendLiteral(" AND claim_token = ")
        appendInterpolation(lease.token)
        appendLiteral(" AND state = 'running'")
    }
}

extension RunStore {
    /// The checkpoints recorded so far for a run, by step name.
    public func loadSteps(runID: UUID) async throws -> [String: StepCheckpoint] {
        var steps: [String: StepCheckpoint] = [:]
        let rows = try await client.query("SELECT name, state, attempts, budget_start, result::text, wait::text FROM steps WHERE run_id = \(runID)", logger: logger)
        for try await (name, state, attempts, budgetStart, result, wait) in rows.decode((String, String, Int, Int, String?, String?).self) {
            steps[name] = StepCheckpoint(state: StepState(rawValue: state) ?? .pending, attempts: attempts, budgetStart: budgetStart, result: result, wait: wait)
        }
        return steps
    }

    /// What a step-start write found.
    public enum StepGate: Sendable, Equatable {
        /// The attempt is recorded; run the body.
        case open
        /// The lease is gone; another worker owns the run.
        case leaseLost
        /// Someone asked to cancel the run: stop here, at the step boundary.
        case cancelRequested
    }

    /// Records that an attempt of a step begins, unless a cancel was requested. Committed asynchronously
    /// (`synchronous_commit` off for this one transaction): the record reaches disk with the next
    /// synchronous commit, at the latest the step's own result. Only a database crash before then can lose
    /// it, and then the attempt's result is lost too and the step runs again.
    public func recordStepStarted(_ lease: LeaseToken, step: String, attempt: Int, evenIfCancelling: Bool = false) async throws -> StepGate {
        let statement = HotStatements.StepStarted(lease: lease, step: step, attempt: attempt, evenIfCancelling: evenIfCancelling)
        for try await (started, cancelling) in try await client.execute(statement, logger: logger) {
            if started == 1 { return .open }
            return cancelling ? .cancelRequested : .leaseLost
        }
        return .leaseLost
    }

    /// Stores a step's result, fenced by the lease. Returns `false` when the lease is no longer held: the
    /// write is refused and nothing changes.
    public func recordStepSucceeded(_ lease: LeaseToken, step: String, attempt: Int, result: String, startedAt: Date) async throws -> Bool {
        let statement = HotStatements.StepSucceeded(lease: lease, step: step, attempt: attempt, result: result, startedAt: startedAt)
        for try await count in try await client.execute(statement, logger: logger) { return count == 1 }
        return false
    }

    /// Records a failed attempt of a step with its error, fenced by the lease. `final` marks the step
    /// failed for good; otherwise it is `retrying` (at `retryAt`).
    public func recordStepFailed(_ lease: LeaseToken, step: String, attempt: Int, error: String, final: Bool, retryAt: Date?, startedAt: Date) async throws -> Bool {
        let state = final ? "failed" : "retrying"
        let query: PostgresQuery = """
            WITH owner AS (
                SELECT id FROM runs WHERE \(fence: lease) FOR SHARE
            ), up AS (
                INSERT INTO steps (run_id, name, state, attempts, epoch, worker, started_at, finished_at, error)
                SELECT id, \(step), \(state), \(attempt), \(lease.epoch), \(lease.worker), \(startedAt), now(), \(error) FROM owner
                ON CONFLICT (run_id, name) DO UPDATE
                SET state = excluded.state, attempts = excluded.attempts, epoch = excluded.epoch, worker = excluded.worker,
                    started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error
                RETURNING run_id
            ), history AS (
                INSERT INTO step_attempts (run_id, step, attempt, epoch, worker, outcome, error, started_at, finished_at)
                SELECT run_id, \(step), \(attempt), \(lease.epoch), \(lease.worker), 'failed', \(error), \(startedAt), now() FROM up
                ON CONFLICT DO NOTHING
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, step, attempt, epoch, worker, detail)
                SELECT run_id, 'step.failed', \(lease.actor), \(step), \(attempt), \(lease.epoch), \(lease.worker),
                       jsonb_build_object('error', \(error)::text, 'final', \(final)::bool, 'retryAt', \(retryAt.map(KajiJSON.format))::text)
                FROM up
            )
            SELECT count(*) FROM up
            """
        return try await count(query) == 1
    }

    /// Whether the lease is still held and has time left (a step may call this before a side effect it must
    /// not repeat): owner, claim token and epoch match, and the lease has not run out.
    public func holdsLease(_ lease: LeaseToken) async throws -> Bool {
        try await count("SELECT count(*) FROM runs WHERE \(fence: lease) AND lease_expires_at > now()") == 1
    }
}
