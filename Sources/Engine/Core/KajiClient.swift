import Foundation
import Logging
import PostgresNIO

/// The engine's front door for the CLI, the HTTP server and tests: validates requests against the
/// registered workflows before anything is stored.
public struct KajiClient: Sendable {
    public let store: RunStore
    public let registry: WorkflowRegistry

    public init(store: RunStore, registry: WorkflowRegistry) {
        self.store = store
        self.registry = registry
    }

    /// Enqueues one run after checking its kind, input, queue and priority. Bad input changes nothing.
    /// A kind with a concurrency-key rule (the cluster operations: `cluster:NAME`) gets its key when the
    /// request has none, and refuses a different one.
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        try Self.validate(queue: request.queue, priority: request.priority, idempotencyKey: request.idempotencyKey)
        if let key = request.concurrencyKey, key.isEmpty || key.count > 200 {
            throw KajiError(.invalidArgument, "--concurrency-key must be 1-200 characters (e.g. cluster:prod-a)")
        }
        try registry.validate(kind: request.kind, input: request.input)
        var request = request
        request.concurrencyKey = try registry.concurrencyKey(kind: request.kind, input: request.input, given: request.concurrencyKey)
        let policy = try registry.retryPolicy(kind: request.kind)
        return try await store.enqueue(request, maxAttempts: policy.maxAttempts)
    }

    /// Enqueues many runs of one kind in one round trip, after checking every input.
    public func enqueueBatch(kind: String, inputs: [String], queue: String = "default", priority: Int = 0, runAt: Date? = nil, idempotencyKeys: [String?]? = nil, actor: String) async throws -> [EnqueueResult] {
        try Self.validate(queue: queue, priority: priority, idempotencyKey: nil)
        for (index, input) in inputs.enumerated() {
            do {
                try registry.validate(kind: kind, input: input)
            } catch let error as KajiError {
                throw KajiError(error.code, "input #\(index + 1): \(error.message)")
            }
        }
        let policy = try registry.retryPolicy(kind: kind)
        return try await store.enqueueBatch(kind: kind, inputs: inputs, queue: queue, priority: priority, runAt: runAt,
                                            idempotencyKeys: idempotencyKeys, maxAttempts: policy.maxAttempts, actor: actor)
    }

    static func validate(queue: String, priority: Int, idempotencyKey: String?) throws {
        guard !queue.isEmpty, queue.count <= 100, queue.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
            throw KajiError(.invalidArgument, "--queue '\(queue)' is not valid: use 1-100 letters, digits and - _ . :")
        }
        guard (-32768...32767).contains(priority) else {
            throw KajiError(.invalidArgument, "--priority \(priority) is out of range (-32768...32767; higher runs first)")
        }
        if let key = idempotencyKey, key.isEmpty || key.count > 500 {
            throw KajiError(.invalidArgument, "--idempotency-key must be 1-500 characters")
        }
    }
}

extension KajiClient {
    /// Sends a signal to a run (its payload must be JSON). Kept until the run waits for it.
    ///
    /// A signal named `approval` is an operator's decision: its payload must be an approval,
    /// `{"approved": true|false, "reason": "…"}` (a rejection needs a reason), and the same rules as
    /// `decide` apply (a requester cannot approve a run that waits for another operator). Anything else is
    /// refused (`invalidArgument`, naming the payload field) and nothing is stored.
    @discardableResult
    public func signal(runID: UUID, name: String, payload: String = "{}", sender: String) async throws -> Int64 {
        guard !name.isEmpty, name.count <= 100 else {
            throw KajiError(.invalidArgument, "signal NAME must be 1-100 characters")
        }
        guard (try? KajiJSON.decode(JSONValue.self, from: payload)) != nil else {
            throw KajiError(.invalidArgument, "--payload is not valid JSON")
        }
        if name == Self.approvalSignal {
            let approval: ApprovalPayload
            do {
                approval = try KajiJSON.decode(ApprovalPayload.self, from: payload)
            } catch {
                throw KajiError(.invalidArgument, "--payload of an approval signal is not an approval: \(KajiJSON.describe(error)) (expected {\"approved\": true|false, \"reason\": \"why\"}; or use kaji approve / kaji reject)")
            }
            if !approval.approved && (approval.reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw KajiError(.invalidArgument, "--payload field 'reason' is required when 'approved' is false (a rejection says why)")
            }
            try await checkApprover(runID: runID, approved: approval.approved, sender: sender)
        }
        return try await store.sendSignal(runID: runID, name: name, payload: payload, sender: sender)
    }

    /// The name of the signal `waitForApproval` waits for.
    public static let approvalSignal = "approval"

    /// Refuses an approval by the requester when the workflow waits for a distinct approver.
    func checkApprover(runID: UUID, approved: Bool, sender: String) async throws {
        if approved, let excluded = try await store.approvalExclusion(runID: runID, signal: Self.approvalSignal), excluded == sender {
            throw KajiError(.invalidArgument, "\(sender) requested run \(runID) and cannot approve it: another operator must")
        }
    }

    /// Approves or rejects a run's pending approval. Refuses an approval by the requester when the
    /// workflow waits for a distinct approver.
    @discardableResult
    public func decide(runID: UUID, approved: Bool, reason: String?, sender: String) async throws -> Int64 {
        if !approved && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw KajiError(.invalidArgument, "--reason is required to reject a run")
        }
        try await checkApprover(runID: runID, approved: approved, sender: sender)
        let payload = try KajiJSON.string(ApprovalPayload(approved: approved, reason: reason))
        return try await store.sendSignal(runID: runID, name: Self.approvalSignal, payload: payload, sender: sender)
    }

    /// Cancels a run (see `RunStore.requestCancel`).
    public func cancel(runID: UUID, reason: String?, actor: String) async throws -> RunStore.CancelOutcome {
        guard let run = try await store.run(id: runID) else { throw KajiError(.runNotFound, "no run with id \(runID)") }
        return try await store.requestCancel(runID: runID, actor: actor, reason: reason, kindHasCompensation: registry.hasCompensation(kind: run.kind))
    }

    /// The actor string for a command-line user: `cli:USER@HOST`.
    public static func cliActor() -> String {
        let env = ProcessInfo.processInfo.environment
        let user = env["KAJI_ACTOR_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).flatMap { String(cString: $0.pointee.pw_name) } ?? "uid\(getuid())"
        return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}
