import Foundation

/// The states of a run. `pending` → `running` → `succeeded` | `failed` | `cancelled`, plus `waiting`
/// (suspended on a timer, a signal or a poll) and `retrying` (a failed attempt, scheduled again).
public enum RunState: String, Codable, Sendable, CaseIterable, StoredEnum {
    case pending, running, waiting, retrying, succeeded, failed, cancelled

    /// Whether the run has ended for good.
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// The states of a step checkpoint.
public enum StepState: String, Codable, Sendable, CaseIterable, StoredEnum {
    case running, retrying, succeeded, failed, pending, waiting
}

/// How a finished attempt of a step ended (`step_attempts.outcome`).
public enum StepAttemptOutcome: String, Codable, Sendable, CaseIterable, StoredEnum {
    case succeeded, failed
}

/// The types of audit events (`audit_events.type`): every event the engine records is one of these.
public enum AuditEventType: String, Codable, Sendable, CaseIterable, StoredEnum {
    case runEnqueued = "run.enqueued"
    case runClaimed = "run.claimed"
    case runSuspended = "run.suspended"
    case runReleased = "run.released"
    case runRetrying = "run.retrying"
    case runRetried = "run.retried"
    case runCompensating = "run.compensating"
    case runCancelRequested = "run.cancel_requested"
    case runCancelled = "run.cancelled"
    case runSucceeded = "run.succeeded"
    case runFailed = "run.failed"
    case leaseExpired = "lease.expired"
    case stepStarted = "step.started"
    case stepWaiting = "step.waiting"
    case stepSucceeded = "step.succeeded"
    case stepFailed = "step.failed"
    case signalSent = "signal.sent"
    case signalReceived = "signal.received"
    case workerStarted = "worker.started"
    case workerStopped = "worker.stopped"
    case scheduleAdded = "schedule.added"
    case schedulePaused = "schedule.paused"
    case scheduleResumed = "schedule.resumed"
    case scheduleRemoved = "schedule.removed"
    case scheduleTicked = "schedule.ticked"
    case secretStored = "secret.stored"
    case secretRevealed = "secret.revealed"
    case secretsRekeyed = "secrets.rekeyed"
    case runsPruned = "runs.pruned"
    case tokenCreated = "token.created"
    case tokenRevoked = "token.revoked"
}

/// A request to start one run.
public struct EnqueueRequest: Sendable {
    /// The workflow kind, e.g. `diag.steps`.
    public var kind: String
    /// The workflow input as JSON (validated against the kind's input type before it is stored).
    public var input: String
    /// Queue name (default `default`).
    public var queue: String
    /// Higher runs first (default 0).
    public var priority: Int
    /// Earliest start (default: now).
    public var runAt: Date?
    /// Enqueueing the same key again returns the existing run instead of a new one (default none).
    public var idempotencyKey: String?
    /// At most one run per concurrency key is active at a time, e.g. `cluster:prod-a` (default none).
    public var concurrencyKey: String?
    /// Who asked, e.g. `cli:alice@host` (recorded in the audit trail).
    public var actor: String

    public init(kind: String, input: String = "{}", queue: String = "default", priority: Int = 0, runAt: Date? = nil, idempotencyKey: String? = nil, concurrencyKey: String? = nil, actor: String) {
        self.kind = kind
        self.concurrencyKey = concurrencyKey
        self.input = input
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.idempotencyKey = idempotencyKey
        self.actor = actor
    }
}

/// What an enqueue returned: the run's id, and whether it is new (false: the idempotency key matched).
public struct EnqueueResult: Sendable, Codable, Equatable {
    public let id: UUID
    public let created: Bool
}

/// A run as the list shows it.
public struct RunSummary: Sendable, Codable {
    public var id: UUID
    public var kind: String
    public var state: RunState
    public var queue: String
    public var priority: Int
    public var attempt: Int
    public var maxAttempts: Int
    public var epoch: Int64
    public var leaseOwner: String?
    public var idempotencyKey: String?
    public var concurrencyKey: String?
    public var actor: String
    public var cancelRequestedBy: String?
    public var cancelReason: String?
    public var createdAt: Date
    public var runAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var lastError: String?
}

/// One finished attempt of a step.
public struct StepAttemptRecord: Sendable, Codable {
    public var attempt: Int
    public var epoch: Int64
    public var worker: String?
    /// How the attempt ended.
    public var attemptOutcome: StepAttemptOutcome
    public var error: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var durationMs: Double

    /// `attemptOutcome` as its stored string (the `--json` shape's `outcome`).
    public var outcome: String { attemptOutcome.rawValue }

    enum CodingKeys: String, CodingKey {
        case attempt, epoch, worker, attemptOutcome = "outcome", error, startedAt, finishedAt, durationMs
    }
}

/// A step checkpoint with its attempts.
public struct StepRecord: Sendable, Codable {
    public var name: String
    public var state: StepState
    public var attempts: Int
    public var epoch: Int64
    public var worker: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationMs: Double?
    public var error: String?
    /// The stored result as JSON text.
    public var result: String?
    /// For a wait: its deadline, polls and last observation, as JSON text.
    public var wait: String?
    public var history: [StepAttemptRecord]
}

/// One audit event.
public struct AuditEvent: Sendable, Codable {
    public var id: Int64
    public var at: Date
    public var runId: UUID?
    public var eventType: AuditEventType
    public var actor: String
    public var step: String?
    public var attempt: Int?
    public var epoch: Int64?
    public var worker: String?
    /// Extra detail as JSON text.
    public var detail: String?

    /// `eventType` as its stored string (the `--json` shape's `type`), e.g. `run.claimed`.
    public var type: String { eventType.rawValue }

    enum CodingKeys: String, CodingKey {
        case id, at, runId, eventType = "type", actor, step, attempt, epoch, worker, detail
    }
}

/// Everything known about one run.
public struct RunDetail: Sendable {
    public var run: RunSummary
    public var input: String
    public var output: String?
    public var steps: [StepRecord]
    public var events: [AuditEvent]
}

/// A run this worker has claimed: it holds the lease under `epoch`.
public struct ClaimedRun: Sendable {
    public var id: UUID
    public var kind: String
    public var queue: String
    public var epoch: Int64
    /// The claim's random token: with the owner and the epoch, the fence every write of this execution
    /// carries (a claim undone by a database crash can repeat the epoch, never the token).
    public var token: UUID
    public var attempt: Int
    public var maxAttempts: Int
    public var input: String
    /// Who enqueued the run (an approval can be required to come from someone else).
    public var actor: String = ""
    /// Signals received so far; a suspension that sees a newer count runs again at once.
    public var wakeups: Int64 = 0
    /// Whether a cancel was requested: the run goes straight to compensation and ends cancelled.
    public var cancelRequested: Bool = false
    /// Whether the run was in its compensation phase.
    public var compensating: Bool = false
}
