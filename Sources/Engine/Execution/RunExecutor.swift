import Foundation
import Logging
import Synchronization

/// Why a run's task was cancelled by its worker.
public enum CancelReason: Sendable {
    /// The worker is draining: give the lease back so another worker resumes at once.
    case drain
    /// Another worker owns the run now, or this worker could not renew its lease in time and stopped the
    /// run's side effects itself before anyone else may take it: record nothing.
    case leaseLost
    /// Someone asked to cancel the run: run its undo steps, then end it `cancelled`.
    case cancelRequested
}

/// Shared between a worker and one run's task: whether the run should stop at its next step boundary
/// (drain), and why the worker cancelled it.
public final class RunControl: Sendable {
    private let reason = Mutex<CancelReason?>(nil)
    private let stopping = Mutex(false)
    private let leaseDeadline = Mutex<ContinuousClock.Instant?>(nil)
    private let fault = Mutex<EngineFault?>(nil)
    public init() {}

    /// The lease is known to be held until `deadline` by this process's monotonic clock (the time the
    /// renewal was sent plus the lease, less a margin). Only moves forward.
    public func leaseHeld(until deadline: ContinuousClock.Instant) {
        leaseDeadline.withLock { current in
            if current.map({ deadline > $0 }) ?? true { current = deadline }
        }
    }

    /// When the lease is known to run out by the local clock (nil: not tracked, e.g. outside a pool).
    public var leaseHeldUntil: ContinuousClock.Instant? { leaseDeadline.withLock { $0 } }

    /// Whether the run may still make side effects as far as this process knows: not stopped for a lost
    /// lease, and its lease not run out by the local clock.
    public var leaseLooksHeld: Bool {
        if cancelReason == .leaseLost { return false }
        guard let deadline = leaseHeldUntil else { return true }
        return ContinuousClock.now < deadline
    }

    /// A transient database error hit one of the engine's writes for this run.
    func noteEngineFault(_ value: EngineFault) { fault.withLock { if $0 == nil { $0 = value } } }
    /// The first engine fault of this execution, if any: the attempt is abandoned.
    public var engineFault: EngineFault? { fault.withLock { $0 } }
    public func set(_ value: CancelReason) { reason.withLock { if $0 == nil { $0 = value } } }
    public var cancelReason: CancelReason? { reason.withLock { $0 } }
    /// Asks the run to stop before its next step: the running step finishes, then the run is given back.
    public func stopAtNextStep() { stopping.withLock { $0 = true } }
    public var shouldStop: Bool { stopping.withLock { $0 } }
}

/// Thrown at a step boundary when the worker drains: the run is given back to the queue.
struct RunReleased: Error {}

/// How one execution of a run ended.
public enum RunOutcome: Sendable, Equatable {
    case succeeded
    case failed(String)
    case retrying(Date)
    case suspended(RunState, Date)
    case released
    case cancelled
    /// The lease was lost: another worker owns the run; nothing was recorded.
    case fenced
    /// A database error left the outcome unrecorded; the lease will expire and the run will be resumed.
    case abandoned(String)
}

/// Runs claimed runs: decodes the input, calls the workflow with a context and records the outcome, every
/// write fenced by the lease's epoch.
public struct RunExecutor: Sendable {
    package let store: RunStore
    public let registry: WorkflowRegistry
    public let worker: String
    public let logger: Logger
    /// Step retries due sooner than this wait in place; later ones suspend the run (default 2 s).
    public var inlineRetryLimit: Duration
    /// Where executions, steps, retries and suspensions are counted (default: `MetricsSystem.factory`).
    public var metrics: EngineMetrics

    package init(store: RunStore, registry: WorkflowRegistry, worker: String, logger: Logger, inlineRetryLimit: Duration = .seconds(2),
                 metrics: EngineMetrics = EngineMetrics()) {
        self.store = store
        self.registry = registry
        self.worker = worker
        self.logger = logger
        self.inlineRetryLimit = inlineRetryLimit
        self.metrics = metrics
    }

    /// Executes one claimed run to its next resting point and records it.
    /// - Parameter claimedAt: when the claim returned the run, for claim-to-start latency (default nil: now).
    public func execute(_ run: ClaimedRun, control: RunControl = RunControl(), claimedAt: ContinuousClock.Instant? = nil) async -> RunOutcome {
        let claimedAt = claimedAt ?? ContinuousClock.now
        metrics.runStarted(kind: run.kind)
        let outcome = await executeOnce(run, control: control, claimedAt: claimedAt)
        metrics.runFinished(kind: run.kind, outcome: outcome)
        if outcome.endsRun { recordRunDuration(run, outcome: outcome, claimedAt: claimedAt) }
        return outcome
    }

    /// A run that ended: its duration from its first start. A run first claimed by this execution (epoch 1)
    /// started at the claim and cannot have waited for a signal; an older one's start and signal waits are
    /// read from the database, in the background and only when metrics are recorded.
    private func recordRunDuration(_ run: ClaimedRun, outcome: RunOutcome, claimedAt: ContinuousClock.Instant) {
        if run.epoch == 1 {
            metrics.runDuration(kind: run.kind, outcome: outcome, seconds: (ContinuousClock.now - claimedAt).seconds)
            return
        }
        guard metrics.isEnabled else { return }
        let store = self.store, metrics = self.metrics
        Task {
            guard let answer = try? await withDeadline(.seconds(5), { try await store.runActiveSeconds(id: run.id) }), let seconds = answer else { return }
            metrics.runDuration(kind: run.kind, outcome: outcome, seconds: seconds)
        }
    }

    private func executeOnce(_ run: ClaimedRun, control: RunControl, claimedAt: ContinuousClock.Instant) async -> RunOutcome {
        let lease = LeaseToken(run, worker: worker)
        var log = logger
        log[metadataKey: "run"] = "\(run.id)"
        log[metadataKey: "kind"] = "\(run.kind)"
        log[metadataKey: "worker"] = "\(worker)"
        do {
            return try await executeRecording(run, lease: lease, control: control, claimedAt: claimedAt, logger: log)
        } catch let error as KajiError where error.code == .leaseLost {
            log.warning("late write refused: lease lost", metadata: ["epoch": "\(run.epoch)", "error": "\(error.message)"])
            return .fenced
        } catch let fault as EngineFault {
            return await abandon(lease, fault.description, logger: log)
        } catch where DatabaseConfig.isTransient(error) {
            return await abandon(lease, DatabaseConfig.describe(error), logger: log)
        } catch {
            log.error("could not record the run's outcome; its lease will expire and it will resume", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return .abandoned(DatabaseConfig.describe(error))
        }
    }

    /// A database fault interrupted the engine's own bookkeeping: nothing about the workflow failed. The
    /// attempt is given up and the run given back (fenced, so only if this worker still holds it) for a
    /// resume from its last checkpoint; when the database cannot take even that within a few seconds, the
    /// lease runs out and the rescuer gives it back instead. No step failure, no compensation.
    private func abandon(_ lease: LeaseToken, _ fault: String, logger log: Logger) async -> RunOutcome {
        log.warning("database error in an engine write; abandoning this attempt, the run resumes from its last checkpoint", metadata: ["error": "\(fault)"])
        let store = self.store, worker = self.worker
        // Bounded: with the database gone the release could hang; the lease then runs out instead.
        let released = (try? await withDeadline(.seconds(5)) {
            // The pool may hand out a connection the fault already killed: try a few times.
            for pause in [0, 100, 400, 1000] {
                try? await Task.sleep(for: .milliseconds(pause))
                if let released = try? await store.releaseRun(lease, reason: "worker \(worker) abandoned an attempt after a database error") {
                    return released
                }
            }
            return false
        }) ?? nil ?? false
        if !released { log.info("run not given back now; its lease will run out and it will be rescued") }
        return .abandoned(fault)
    }

    private func executeRecording(_ run: ClaimedRun, lease: LeaseToken, control: RunControl, claimedAt: ContinuousClock.Instant, logger log: Logger) async throws -> RunOutcome {
        guard let entry = registry.entry(run.kind) else {
            let message = "no workflow of kind '\(run.kind)' is registered in this worker (known: \(registry.kinds.joined(separator: ", ")))"
            return try await fail(lease, message)
        }
        if run.cancelRequested || run.compensating {
            // Woken to be cancelled, or resuming undo steps after a crash.
            return try await compensateAndFinish(run, entry: entry, lease: lease, control: control, cancelled: run.cancelRequested, error: nil, logger: log)
        }
        // Epoch 1 is the first claim ever: no step can have been recorded yet.
        let checkpoints = run.epoch == 1 ? [:] : try await bounded({ [store] in try await store.loadSteps(runID: run.id) })
        let context = WorkflowContext(run: run, worker: worker, store: store, checkpoints: checkpoints, inlineRetryLimit: inlineRetryLimit,
                                      control: control, metrics: metrics, logger: log)
        metrics.claimToStart(kind: run.kind, duration: ContinuousClock.now - claimedAt)
        let result: Result<String, any Error>
        do {
            result = .success(try await entry.execute(run.input, context))
        } catch {
            result = .failure(error)
        }
        if case .failure(let error) = result, let fault = control.engineFault ?? (error as? EngineFault) {
            // Whatever the workflow threw after it, a database fault in an engine write is not its failure.
            return await abandon(lease, fault.description, logger: log)
        }
        switch result {
        case .success(let output):
            guard try await bounded({ [store] in try await store.completeRun(lease, output: output) }) else { return .fenced }
            return .succeeded
        case .failure(let error as RunSuspension):
            guard try await bounded({ [store] in try await store.suspendRun(lease, state: error.state, until: error.until, reason: error.reason, wakeups: run.wakeups) }) else { return .fenced }
            metrics.runSuspended(kind: run.kind, waitingFor: error.metricWait)
            return .suspended(error.state, error.until)
        case .failure(let error as KajiError) where error.code == .leaseLost:
            throw error
        case .failure(let error) where error is RunReleased:
            guard try await bounded({ [store] in try await store.releaseRun(lease, reason: "worker \(worker) is draining") }) else { return .fenced }
            return .released
        case .failure(let error) where error is RunCancelRequested:
            // Sibling steps may have cancelled this task meanwhile: undo and record from a task that is not.
            return try await Task {
                try await compensateAndFinish(run, entry: entry, lease: lease, control: RunControl(), cancelled: true, error: nil, logger: log)
            }.value
        case .failure(let error) where error is CancellationError || Task.isCancelled:
            switch control.cancelReason {
            case .leaseLost:
                return .fenced
            case .cancelRequested:
                // The running step saw Task cancellation; undo and record from a task that is not cancelled.
                return try await Task {
                    try await compensateAndFinish(run, entry: entry, lease: lease, control: RunControl(), cancelled: true, error: nil, logger: log)
                }.value
            case .drain, .none:
                // This task is cancelled: record the release from a task that is not, or the query is refused.
                let store = self.store, worker = self.worker
                let released = try await Task { try await bounded({ [store] in try await store.releaseRun(lease, reason: "worker \(worker) stopped the run mid-step (drain deadline)") }) }.value
                return released ? .released : .fenced
            }
        case .failure(let error):
            let message = error.kajiDescription
            if error.kajiIsRetryable && run.attempt < run.maxAttempts {
                let policy = entry.retryPolicy
                let at = Date().addingTimeInterval(policy.delay(afterAttempt: run.attempt).seconds)
                guard try await bounded({ [store] in try await store.scheduleRunRetry(lease, error: message, at: at) }) else { return .fenced }
                metrics.runRetried(kind: run.kind)
                log.info("run attempt failed; retrying", metadata: ["attempt": "\(run.attempt)", "error": "\(message)"])
                return .retrying(at)
            }
            if entry.compensate != nil {
                return try await compensateAndFinish(run, entry: entry, lease: lease, control: control, cancelled: false, error: message, logger: log)
            }
            return try await fail(lease, message)
        }
    }

    /// Runs the workflow's undo steps (if it has any) and ends the run `cancelled` or `failed`.
    private func compensateAndFinish(_ run: ClaimedRun, entry: WorkflowRegistry.Entry, lease: LeaseToken, control: RunControl, cancelled: Bool, error: String?, logger log: Logger) async throws -> RunOutcome {
        var compensationError: String?
        if let compensate = entry.compensate {
            guard try await bounded({ [store] in try await store.beginCompensation(lease, error: error) }) else { return .fenced }
            let checkpoints = try await bounded({ [store] in try await store.loadSteps(runID: run.id) })
            let context = WorkflowContext(run: run, worker: worker, store: store, checkpoints: checkpoints, inlineRetryLimit: inlineRetryLimit,
                                          control: control, compensating: true, metrics: metrics, logger: log)
            do {
                try await compensate(run.input, context)
            } catch let suspension as RunSuspension {
                guard try await bounded({ [store] in try await store.suspendRun(lease, state: suspension.state, until: suspension.until, reason: "compensation: \(suspension.reason)", wakeups: run.wakeups) }) else { return .fenced }
                metrics.runSuspended(kind: run.kind, waitingFor: suspension.metricWait)
                return .suspended(suspension.state, suspension.until)
            } catch let e as KajiError where e.code == .leaseLost {
                throw e
            } catch let fault as EngineFault {
                throw fault
            } catch where control.engineFault != nil {
                throw control.engineFault!
            } catch is RunReleased {
                guard try await bounded({ [store] in try await store.releaseRun(lease, reason: "worker \(worker) is draining (during compensation)") }) else { return .fenced }
                return .released
            } catch {
                compensationError = "compensation failed: \(error.kajiDescription)"
                log.error("compensation failed", metadata: ["error": "\(error.kajiDescription)"])
            }
        }
        if cancelled {
            guard try await bounded({ [store, compensationError] in try await store.finishCancelled(lease, note: compensationError) }) else { return .fenced }
            return .cancelled
        }
        let message = [error, compensationError].compactMap { $0 }.joined(separator: "; ")
        if message.isEmpty {
            // Resumed compensation after a crash: the original error is already recorded.
            guard try await bounded({ [store] in try await store.failRun(lease, error: try await store.run(id: run.id)?.lastError ?? "failed") }) else { return .fenced }
            return .failed("failed")
        }
        return try await fail(lease, message)
    }

    /// One of the executor's own database calls, bounded like every engine write: past
    /// `engineWriteTimeout` it fails as `databaseUnavailable`, and the attempt is abandoned.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let value = try await withDeadline(engineWriteTimeout, body) else {
            throw KajiError(.databaseUnavailable, "the database did not answer within \(engineWriteTimeout)")
        }
        return value
    }

    private func fail(_ lease: LeaseToken, _ message: String) async throws -> RunOutcome {
        guard try await bounded({ [store] in try await store.failRun(lease, error: message) }) else { return .fenced }
        logger.warning("run failed", metadata: ["run": "\(lease.runID)", "error": "\(message)"])
        return .failed(message)
    }
}
