import Foundation
import Logging
import Synchronization

/// The handle a workflow uses to run durable steps. One per run execution.
public final class WorkflowContext: Sendable {
    public let runID: UUID
    public let kind: String
    /// The run's attempt number, from 1.
    public let attempt: Int
    /// The lease epoch of this execution.
    public let epoch: Int64
    public let worker: String
    public let logger: Logger

    let store: RunStore
    let lease: LeaseToken
    /// Step retries due sooner than this wait in place; later ones suspend the run (default 2 s).
    let inlineRetryLimit: Duration
    let control: RunControl
    let checkpoints: [String: StepCheckpoint]
    /// Who enqueued the run.
    public let requester: String
    let wakeups: Int64
    /// Undo steps run even though the run is being cancelled.
    let compensating: Bool
    /// Where step durations and retries are counted.
    let metrics: EngineMetrics
    private let sequence = Mutex<Int>(0)
    private let usedNames = Mutex<Set<String>>([])

    init(run: ClaimedRun, worker: String, store: RunStore, checkpoints: [String: StepCheckpoint], inlineRetryLimit: Duration, control: RunControl,
         compensating: Bool = false, metrics: EngineMetrics = EngineMetrics(), logger: Logger) {
        self.control = control
        self.metrics = metrics
        self.compensating = compensating
        self.runID = run.id
        self.kind = run.kind
        self.attempt = run.attempt
        self.epoch = run.epoch
        self.worker = worker
        self.store = store
        self.lease = LeaseToken(run, worker: worker)
        self.checkpoints = checkpoints
        self.requester = run.actor
        self.wakeups = run.wakeups
        self.inlineRetryLimit = inlineRetryLimit
        var logger = logger
        logger[metadataKey: "run"] = "\(run.id)"
        logger[metadataKey: "kind"] = "\(run.kind)"
        self.logger = logger
    }

    /// Runs a named step once. Its result is stored before this returns; when the run resumes, a finished
    /// step returns the stored result without running again. Failed attempts are retried per `retry`
    /// (default `RetryPolicy.default`) unless the error is non-retryable; each is kept with its error.
    ///
    /// The name is the step's identity in the run: use distinct names in loops (`"create-server:master-2"`).
    /// Steps may run concurrently (in a task group); the same name twice in one run is a programmer error.
    public func step<T: Codable & Sendable>(
        _ name: String,
        retry: RetryPolicy = .default,
        _ body: @Sendable (StepContext) async throws -> T
    ) async throws -> T {
        try reserve(name)
        let checkpoint = checkpoints[name]
        if let checkpoint, checkpoint.state == .succeeded, let stored = checkpoint.result {
            do {
                return try KajiJSON.decode(T.self, from: stored)
            } catch {
                throw KajiError(.invalidState, "step '\(name)' of run \(runID) has a stored result that no longer decodes as \(T.self): \(KajiJSON.describe(error))")
            }
        }
        var total = checkpoint?.attempts ?? 0
        let budgetStart = checkpoint?.budgetStart ?? 0
        var stepLogger = logger
        stepLogger[metadataKey: "step"] = "\(name)"
        while true {
            try Task.checkCancellation()
            if control.shouldStop { throw RunReleased() }
            total += 1
            let inBudget = total - budgetStart
            stepLogger[metadataKey: "attempt"] = "\(inBudget)"
            let startedAt = Date()
            switch try await engine("recording that step '\(name)' starts", { [self, total] in try await store.recordStepStarted(lease, step: name, attempt: total, evenIfCancelling: compensating) }) {
            case .open: break
            case .leaseLost: throw leaseLost(name)
            case .cancelRequested: throw RunCancelRequested()
            }
            let stepContext = StepContext(runID: runID, step: name, attempt: inBudget, totalAttempts: total, epoch: epoch,
                                          worker: worker, logger: stepLogger, lease: lease, store: store, control: control)
            let failure: any Error
            let clockStart = ContinuousClock.now
            do {
                let value = try await body(stepContext)
                let bodyDuration = ContinuousClock.now - clockStart
                let json: String
                do {
                    json = try KajiJSON.string(value)
                } catch {
                    throw WorkflowError("step '\(name)' returned a value that cannot be stored as JSON: \(error)", nonRetryable: true)
                }
                guard try await engine("recording the result of step '\(name)'", { [self, total] in try await store.recordStepSucceeded(lease, step: name, attempt: total, result: json, startedAt: startedAt) }) else { throw leaseLost(name) }
                metrics.stepAttempt(kind: kind, step: name, succeeded: true, duration: bodyDuration)
                return value
            } catch let error as KajiError where error.code == .leaseLost {
                throw error
            } catch let fault as EngineFault {
                // The engine's own write failed (here or in the body's checkLease/storeSecret): not the step's
                // failure; the attempt is abandoned and the run resumed.
                throw fault
            } catch {
                if Task.isCancelled || error is CancellationError { throw error }
                if let fault = control.engineFault { throw fault }
                failure = error
                metrics.stepAttempt(kind: kind, step: name, succeeded: false, duration: ContinuousClock.now - clockStart)
            }
            let message = failure.kajiDescription
            let retryable = failure.kajiIsRetryable && inBudget < retry.maxAttempts
            let delay = retryable ? retry.delay(afterAttempt: inBudget) : nil
            let retryAt = delay.map { Date().addingTimeInterval($0.seconds) }
            guard try await engine("recording a failed attempt of step '\(name)'", { [self, total] in try await store.recordStepFailed(lease, step: name, attempt: total, error: message, final: !retryable, retryAt: retryAt, startedAt: startedAt) }) else {
                throw leaseLost(name)
            }
            guard let delay, let retryAt else {
                stepLogger.warning("step failed", metadata: ["error": "\(message)"])
                throw StepFailure(step: name, attempts: inBudget, message: message, isRetryable: failure.kajiIsRetryable)
            }
            stepLogger.info("step attempt failed, will retry", metadata: ["error": "\(message)", "delay_ms": "\(Int(delay.seconds * 1000))"])
            metrics.stepRetried(kind: kind, step: name)
            if delay > inlineRetryLimit {
                throw RunSuspension(until: retryAt, state: .retrying, reason: "step '\(name)' attempt \(inBudget) failed; next attempt at \(KajiJSON.format(retryAt))")
            }
            try await Task.sleep(for: delay)
        }
    }

    /// The next number of an unnamed wait in this execution (`sleep:1`, `sleep:2`, …): stable because code
    /// between steps runs in the same order on every resume.
    func nextSequence() -> Int { sequence.withLock { $0 += 1; return $0 } }

    /// The stored result of a step that succeeded in this run, or nil (compensation uses it to undo only
    /// what was done).
    public func result<T: Decodable>(of step: String, as type: T.Type = T.self) throws -> T? {
        guard let checkpoint = checkpoints[step], checkpoint.state == .succeeded, let stored = checkpoint.result else { return nil }
        return try KajiJSON.decode(type, from: stored)
    }

    func reserve(_ name: String) throws {
        guard !name.isEmpty else {
            throw WorkflowError("a step name must not be empty (run \(runID), kind \(kind))", nonRetryable: true)
        }
        let fresh = usedNames.withLock { $0.insert(name).inserted }
        guard fresh else {
            throw KajiError(.duplicateStep, "step name '\(name)' is used twice in one run of \(kind): step names are checkpoint keys and must be unique (use e.g. \"\(name):2\")")
        }
    }

    /// Runs one of the engine's writes: a transient database error becomes an `EngineFault`.
    func engine<T: Sendable>(_ operation: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await engineCall(control, operation(), body)
    }

    func leaseLost(_ step: String) -> KajiError {
        KajiError(.leaseLost, "run \(runID) lost its lease (epoch \(epoch)) during step '\(step)': the write was refused")
    }
}
