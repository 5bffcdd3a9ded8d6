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
    /// `decide` apply (a requester cannot approve a run that waits for another operator, the database-direct
    /// CLI cannot approve where its approval does not count). Anything else is
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

    /// Approves or rejects a run's pending approval (a rejection needs a `reason`, field `reason`). An
    /// approval is refused, and nothing stored, when it comes from the requester's principal and the
    /// workflow waits for a distinct approver (`invalidArgument`), or from the database-direct CLI
    /// (`cli:USER@HOST`) for a kind where such an approval does not count (`permissionDenied`; cluster
    /// provision and delete).
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

    /// The rules an approval must pass before anything is stored (a rejection passes them all):
    /// - an approver from the database-direct CLI (`cli:USER@HOST`) is refused (`permissionDenied`) for a
    ///   kind whose catalog entry does not let such approvals count (`WorkflowKind.databaseDirectApproval`;
    ///   for a kind this client's catalog does not know: when the waiting step asks for a distinct approver);
    /// - the requester's principal cannot approve a run that waits for another approver (`invalidArgument`),
    ///   whether the run waits already or not yet.
    func checkApprover(runID: UUID, approved: Bool, sender: String) async throws {
        guard approved else { return }
        guard let run = try await store.run(id: runID) else {
            throw KajiError(.runNotFound, "no run with id \(runID)", field: "run")
        }
        let entry = catalog[run.kind]
        let excluded = try await store.approvalExclusion(runID: runID, signal: Self.approvalSignal)
        if Self.isDatabaseDirect(sender), !(entry?.databaseDirectApproval ?? (excluded == nil)) {
            throw KajiError(.permissionDenied, "\(sender) is the database-direct CLI, and an approval from it does not count for \(run.kind) (run \(runID)): it names whoever the shell says. Approve as an authenticated person: through kaji serve with an approver token (KAJI_SERVER and KAJI_TOKEN, or POST /api/v1/runs/\(runID.uuidString.lowercased())/approve), or from Slack (/kaji approve \(runID.uuidString.lowercased()))")
        }
        let distinct = entry?.approval == .distinctApprover || excluded != nil
        let requester = excluded ?? run.actor
        if distinct, Self.principal(of: sender) == Self.principal(of: requester) {
            let alias = sender == requester ? "" : " as \(requester)"
            throw KajiError(.invalidArgument, "\(sender) requested run \(runID)\(alias) and cannot approve it: another approver must")
        }
    }

    /// Whether `actor` is the database-direct CLI: `cli:USER@HOST`.
    public static func isDatabaseDirect(_ actor: String) -> Bool { actor.hasPrefix("cli:") }

    /// The principal an actor stands for, as the four-eyes rule compares them: `token:NAME` and
    /// `slack:TEAM/USER` as they are; `cli:USER@HOST` is the user `cli:USER` on any host (one person at
    /// two machines is still one person).
    public static func principal(of actor: String) -> String {
        guard isDatabaseDirect(actor), let at = actor.lastIndex(of: "@") else { return actor }
        return String(actor[..<at])
    }
}
