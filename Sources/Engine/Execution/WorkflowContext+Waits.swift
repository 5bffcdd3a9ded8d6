import Foundation

/// A signal a run received: its payload, who sent it and when.
public struct ReceivedSignal<Payload: Codable & Sendable>: Codable, Sendable {
    public var payload: Payload
    public var sender: String
    public var sentAt: Date
}

/// An operator's approval.
public struct Approval: Codable, Sendable, Equatable {
    public var approver: String
    public var reason: String?
    public var at: Date
}

/// The payload of an `approval` signal (`kaji approve` / `kaji reject`).
public struct ApprovalPayload: Codable, Sendable {
    public var approved: Bool
    public var reason: String?
    public init(approved: Bool, reason: String?) {
        self.approved = approved
        self.reason = reason
    }
}

/// What one poll of `waitUntil` saw.
public enum PollResult<Value: Sendable>: Sendable {
    /// The condition holds; the wait ends with this value.
    case done(Value)
    /// Not yet; the observation is kept in the history (e.g. "disk is migrating, 40%").
    case notYet(String)
}

/// A wait's record, kept in the step's `wait` column.
/// What a durable wait waits for (`kind` in a step's wait record, `steps.wait`).
public enum WaitKind: String, Codable, Sendable, CaseIterable, StoredEnum {
    /// A durable sleep until a time (`WorkflowContext.sleep`).
    case sleep
    /// A signal, or an approval (`waitForSignal`, `waitForApproval`).
    case signal
    /// A condition polled until it holds (`waitUntil`).
    case poll

    /// Reads a stored kind; one this build does not know is a `KajiError(.unknownStoredValue, …)` naming it.
    public init(from decoder: any Decoder) throws {
        self = try Self.stored(try decoder.singleValueContainer().decode(String.self), column: "steps.wait.kind")
    }
}

struct WaitRecord: Codable, Sendable {
    var kind: WaitKind
    var until: Date?
    var deadline: Date?
    var signal: String?
    var excludedSender: String?
    var polls: Int?
    var lastObservation: String?
    var lastPollAt: Date?

    func json() throws -> String { try KajiJSON.string(self) }
}

extension WorkflowContext {
    /// A date later than any deadline, for waits without one.
    static let farFuture = Date(timeIntervalSince1970: 253_402_214_400) // 9999-12-31

    /// Sleeps durably: the run is suspended (no worker slot, no lease, no connection) and resumes after
    /// `duration`, also if every worker restarted meanwhile. Unnamed sleeps are named `sleep:1`, `sleep:2`, …
    /// in call order.
    public func sleep(for duration: Duration, name: String? = nil) async throws {
        let step = name ?? "sleep:\(nextSequence())"
        try reserve(step)
        let checkpoint = checkpoints[step]
        if checkpoint?.state == .succeeded { return }
        if checkpoint?.state == .waiting, let record = try decodeWait(checkpoint), let until = record.until {
            if Date() >= until {
                guard try await engine("recording a wait", { [self, record] in try await store.finishWait(lease, step: step, result: "null", wait: try record.json()) }) else { throw leaseLost(step) }
                return
            }
            throw RunSuspension(until: until, state: .waiting, reason: "\(step) until \(KajiJSON.format(until))", wait: .sleep)
        }
        let until = Date().addingTimeInterval(duration.seconds)
        let record = WaitRecord(kind: .sleep, until: until)
        if duration <= .zero {
            guard try await engine("recording a wait", { [self, record] in try await store.finishWait(lease, step: step, result: "null", wait: try record.json()) }) else { throw leaseLost(step) }
            return
        }
        guard try await engine("recording a wait", { [self, record] in try await store.recordStepWaiting(lease, step: step, wait: try record.json()) }) else { throw leaseLost(step) }
        throw RunSuspension(until: until, state: .waiting, reason: "\(step) until \(KajiJSON.format(until))", wait: .sleep)
    }

    /// Waits durably for the signal `name` (`kaji signal RUN NAME --payload JSON`) and returns its payload
    /// and sender. A signal sent before the run waits is kept and delivered here. Without `timeout` the
    /// wait has no end; after it, throws `WaitTimeout`. The step is named `signal:NAME` unless `step` says.
    public func waitForSignal<Payload: Codable & Sendable>(_ name: String, as type: Payload.Type, timeout: Duration? = nil, step: String? = nil) async throws -> ReceivedSignal<Payload> {
        let stepName = step ?? "signal:\(name)"
        try reserve(stepName)
        let delivery = try await receive(signal: name, step: stepName, timeout: timeout, excludedSender: nil)
        return try decodeSignal(delivery, as: type, step: stepName)
    }

    /// Waits durably for an operator's approval (`kaji approve RUN`). A rejection (`kaji reject RUN
    /// --reason …`) throws `ApprovalRejected`. With `requireDistinctApprover` (default true) the person who
    /// enqueued the run cannot approve it: their approvals are ignored.
    public func waitForApproval(_ name: String = "approval", timeout: Duration? = nil, requireDistinctApprover: Bool = true) async throws -> Approval {
        try reserve(name)
        let delivery = try await receive(signal: "approval", step: name, timeout: timeout, excludedSender: requireDistinctApprover ? requester : nil)
        let signal = try decodeSignal(delivery, as: ApprovalPayload.self, step: name)
        guard signal.payload.approved else {
            let rejection = ApprovalRejected(rejectedBy: signal.sender, reason: signal.payload.reason)
            // The wait ends failed, not succeeded: the run fails, and `kaji retry` asks for approval again
            // instead of replaying the rejection.
            let record = WaitRecord(kind: .signal, signal: "approval", excludedSender: requireDistinctApprover ? requester : nil)
            guard try await engine("recording a wait", { [self, record] in try await store.failWait(lease, step: name, error: rejection.description, wait: try record.json()) }) else {
                throw leaseLost(name)
            }
            throw rejection
        }
        return Approval(approver: signal.sender, reason: signal.payload.reason, at: signal.sentAt)
    }

    /// Polls `check` durably every `every` until it returns `.done`, or throws `WaitTimeout` after
    /// `timeout` with the last observation. Between polls the run is suspended (no slot, no lease). Each
    /// poll's observation is kept in the step's wait record. A retryable error from `check` counts as "not
    /// yet"; a non-retryable one fails the wait.
    public func waitUntil<Value: Codable & Sendable>(_ name: String, every: Duration, timeout: Duration, _ check: @Sendable () async throws -> PollResult<Value>) async throws -> Value {
        try reserve(name)
        let checkpoint = checkpoints[name]
        if let checkpoint, checkpoint.state == .succeeded, let stored = checkpoint.result {
            return try KajiJSON.decode(Value.self, from: stored)
        }
        var record = (checkpoint?.state == .waiting ? try decodeWait(checkpoint) : nil)
            ?? WaitRecord(kind: .poll, deadline: Date().addingTimeInterval(timeout.seconds), polls: 0)
        let deadline = record.deadline ?? Date().addingTimeInterval(timeout.seconds)
        let observation: String
        do {
            switch try await check() {
            case .done(let value):
                record.polls = (record.polls ?? 0) + 1
                record.lastObservation = "done"
                record.lastPollAt = Date()
                guard try await engine("recording a wait", { [self, record] in try await store.finishWait(lease, step: name, result: try KajiJSON.string(value), wait: try record.json()) }) else { throw leaseLost(name) }
                return value
            case .notYet(let seen):
                observation = seen
            }
        } catch let error as KajiError where error.code == .leaseLost {
            throw error
        } catch {
            if Task.isCancelled || error is CancellationError { throw error }
            if !error.kajiIsRetryable {
                record.lastObservation = "check failed: \(error.kajiDescription)"
                guard try await engine("recording a wait", { [self, record] in try await store.failWait(lease, step: name, error: error.kajiDescription, wait: try record.json()) }) else { throw leaseLost(name) }
                throw StepFailure(step: name, attempts: (record.polls ?? 0) + 1, message: error.kajiDescription, isRetryable: false)
            }
            observation = "check failed: \(error.kajiDescription)"
        }
        record.polls = (record.polls ?? 0) + 1
        record.lastObservation = observation
        record.lastPollAt = Date()
        let now = Date()
        if now >= deadline {
            let message = "timed out after \(Int(timeout.seconds)) s waiting for \(name) (\(record.polls ?? 0) polls); last observation: \(observation)"
            guard try await engine("recording a wait", { [self, record] in try await store.failWait(lease, step: name, error: message, wait: try record.json()) }) else { throw leaseLost(name) }
            throw WaitTimeout(step: name, message: message)
        }
        guard try await engine("recording a wait", { [self, record] in try await store.recordStepWaiting(lease, step: name, wait: try record.json()) }) else { throw leaseLost(name) }
        let next = min(now.addingTimeInterval(every.seconds), deadline)
        throw RunSuspension(until: next, state: .waiting, reason: "\(name): \(observation)", wait: .poll)
    }

    // MARK: helpers

    private func receive(signal name: String, step: String, timeout: Duration?, excludedSender: String?) async throws -> SignalDelivery {
        let checkpoint = checkpoints[step]
        if let checkpoint, checkpoint.state == .succeeded, let stored = checkpoint.result {
            return try KajiJSON.decode(StoredSignal.self, from: stored).delivery
        }
        if let delivery = try await engine("recording a wait", { [self] in try await store.consumeSignal(lease, step: step, name: name, excludingSender: excludedSender) }) {
            return delivery
        }
        let waiting = checkpoint?.state == .waiting ? try decodeWait(checkpoint) : nil
        let record = waiting ?? WaitRecord(kind: .signal, deadline: timeout.map { Date().addingTimeInterval($0.seconds) }, signal: name, excludedSender: excludedSender)
        if let deadline = record.deadline, Date() >= deadline {
            let message = "timed out waiting for signal '\(name)' (step \(step)) after \(Int((timeout ?? .zero).seconds)) s"
            guard try await engine("recording a wait", { [self, record] in try await store.failWait(lease, step: step, error: message, wait: try record.json()) }) else { throw leaseLost(step) }
            throw WaitTimeout(step: step, message: message)
        }
        if waiting == nil {
            guard try await engine("recording a wait", { [self, record] in try await store.recordStepWaiting(lease, step: step, wait: try record.json()) }) else { throw leaseLost(step) }
        }
        throw RunSuspension(until: record.deadline ?? Self.farFuture, state: .waiting, reason: "waiting for signal '\(name)'", wait: .signal)
    }

    private func decodeSignal<Payload: Codable & Sendable>(_ delivery: SignalDelivery, as type: Payload.Type, step: String) throws -> ReceivedSignal<Payload> {
        do {
            let payload = try KajiJSON.decode(Payload.self, from: delivery.payload)
            return ReceivedSignal(payload: payload, sender: delivery.sender, sentAt: delivery.sentAt)
        } catch {
            throw WorkflowError("the signal received by step '\(step)' from \(delivery.sender) has a payload that does not fit: \(KajiJSON.describe(error))", nonRetryable: true)
        }
    }

    private func decodeWait(_ checkpoint: StepCheckpoint?) throws -> WaitRecord? {
        guard let text = checkpoint?.wait else { return nil }
        return try KajiJSON.decode(WaitRecord.self, from: text)
    }
}

/// A received signal as stored in its step's result.
private struct StoredSignal: Decodable {
    var payload: JSONText
    var sender: String
    var sentAt: Date
    var delivery: SignalDelivery { SignalDelivery(payload: payload.text, sender: sender, sentAt: sentAt) }
}

/// Any JSON value, kept as its text.
struct JSONText: Decodable {
    let text: String
    init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        text = try KajiJSON.string(value)
    }
}

