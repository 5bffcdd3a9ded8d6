import Foundation

/// A signal that was stored: the `kaji signal|approve|reject --json` document.
public struct SignalReceipt: Sendable, Codable, Equatable {
    public var run: UUID
    /// The signal's name; `approval (approved)` or `approval (rejected)` for a decision.
    public var signal: String
    public var signalId: Int64
    public var sender: String

    public init(run: UUID, signal: String, signalId: Int64, sender: String) {
        self.run = run
        self.signal = signal
        self.signalId = signalId
        self.sender = sender
    }
}

extension KajiClient {
    /// The name of the signal `waitForApproval` waits for.
    public static let approvalSignal = "approval"

    /// Sends a signal to a run (its payload must be JSON). Kept until the run waits for it.
    ///
    /// A signal named `approval` is an operator's decision: its payload must be an approval,
    /// `{"approved": true|false, "reason": "…"}` (a rejection needs a reason), and the same rules as
    /// `decide` apply (a requester cannot approve a run that waits for another operator). Anything else is
    /// refused (`invalidArgument`, field `payload` or `payload.reason`) and nothing is stored.
    @discardableResult
    public func signal(runID: UUID, name: String, payload: String = "{}", sender: String) async throws -> SignalReceipt {
        guard !name.isEmpty, name.count <= 100 else {
            throw KajiError(.invalidArgument, "signal name must be 1-100 characters", field: "name")
        }
        guard (try? KajiJSON.decode(JSONValue.self, from: payload)) != nil else {
            throw KajiError(.invalidArgument, "payload is not valid JSON", field: "payload")
        }
        if name == Self.approvalSignal {
            let approval: ApprovalPayload
            do {
                approval = try KajiJSON.decode(ApprovalPayload.self, from: payload)
            } catch {
                throw KajiError(.invalidArgument, "payload of an approval signal is not an approval: \(KajiJSON.describe(error)) (expected {\"approved\": true|false, \"reason\": \"why\"}; or use kaji approve / kaji reject)", field: "payload")
            }
            if !approval.approved && (approval.reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw KajiError(.invalidArgument, "payload field 'reason' is required when 'approved' is false (a rejection says why)", field: "payload.reason")
            }
            try await checkApprover(runID: runID, approved: approval.approved, sender: sender)
        }
        let id = try await sendSignal(runID: runID, name: name, payload: payload, sender: sender)
        return SignalReceipt(run: runID, signal: name, signalId: id, sender: sender)
    }

    /// Approves or rejects a run's pending approval (a rejection needs a `reason`, field `reason`). Refuses
    /// an approval by the requester when the workflow waits for a distinct approver.
    @discardableResult
    public func decide(runID: UUID, approved: Bool, reason: String?, sender: String) async throws -> SignalReceipt {
        if !approved && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw KajiError(.invalidArgument, "reason is required to reject a run", field: "reason")
        }
        try await checkApprover(runID: runID, approved: approved, sender: sender)
        let payload = try KajiJSON.string(ApprovalPayload(approved: approved, reason: reason))
        let id = try await sendSignal(runID: runID, name: Self.approvalSignal, payload: payload, sender: sender)
        return SignalReceipt(run: runID, signal: approved ? "approval (approved)" : "approval (rejected)", signalId: id, sender: sender)
    }

    /// Approves a run's pending approval.
    @discardableResult
    public func approve(runID: UUID, reason: String? = nil, sender: String) async throws -> SignalReceipt {
        try await decide(runID: runID, approved: true, reason: reason, sender: sender)
    }

    /// Rejects a run's pending approval; it fails with `reason`.
    @discardableResult
    public func reject(runID: UUID, reason: String, sender: String) async throws -> SignalReceipt {
        try await decide(runID: runID, approved: false, reason: reason, sender: sender)
    }

    private func sendSignal(runID: UUID, name: String, payload: String, sender: String) async throws -> Int64 {
        do {
            return try await store.sendSignal(runID: runID, name: name, payload: payload, sender: sender)
        } catch let error as KajiError where error.code == .runNotFound {
            throw error.naming(field: "run")
        }
    }

    /// Refuses an approval by the requester when the workflow waits for a distinct approver.
    func checkApprover(runID: UUID, approved: Bool, sender: String) async throws {
        if approved, let excluded = try await store.approvalExclusion(runID: runID, signal: Self.approvalSignal), excluded == sender {
            throw KajiError(.invalidArgument, "\(sender) requested run \(runID) and cannot approve it: another operator must")
        }
    }
}
