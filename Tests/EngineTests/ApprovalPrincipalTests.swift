import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// Waits for an approver other than the requester and declares it, as cluster provision and delete do.
struct FourEyesWorkflow: Workflow {
    static let kind = "test.four-eyes"
    static let approval = ApprovalRule.distinctApprover
    struct Input: Codable, Sendable {}
    func run(_ input: Input, context: WorkflowContext) async throws -> Approval {
        let approval = try await context.waitForApproval()
        _ = try await context.step("after-approval") { _ in "done" }
        return approval
    }
}

private func fourEyesRegistry() -> WorkflowRegistry {
    var registry = testRegistry()
    registry.register(FourEyesWorkflow())
    return registry
}

/// The ways an approval reaches the engine: `decide`, `approve`, and a plain signal named `approval`.
enum ApprovalPath: String, CaseIterable, Sendable {
    case decide, approve, signal

    func send(_ client: KajiClient, run: UUID, sender: String) async throws {
        switch self {
        case .decide: try await client.decide(runID: run, approved: true, reason: "ok", sender: sender)
        case .approve: try await client.approve(runID: run, sender: sender)
        case .signal: try await client.signal(runID: run, name: KajiClient.approvalSignal, payload: #"{"approved": true}"#, sender: sender)
        }
    }
}

/// The error an approval was refused with; records an issue when it was not refused.
private func refusal(_ path: ApprovalPath, _ client: KajiClient, run: UUID, sender: String) async throws -> KajiError? {
    do {
        try await path.send(client, run: run, sender: sender)
        Issue.record("\(path.rawValue) by \(sender) was not refused")
        return nil
    } catch let error as KajiError {
        return error
    }
}

/// The four-eyes rule on authenticated principals: the database-direct CLI (`cli:USER@HOST`, named by the
/// shell) cannot approve a kind that does not let it, and the requester cannot approve their own run through
/// any path (token, Slack, CLI on another host).
@Suite("Approvals by principal", .timeLimit(.minutes(3)), .needsDatabase)
struct ApprovalPrincipalTests {
    @Test("a distinct-approver kind does not count database-direct approvals by default; an entry can say otherwise")
    func catalogDeclaration() {
        #expect(WorkflowKind(FourEyesWorkflow.self).databaseDirectApproval == false)
        #expect(WorkflowKind(ApprovalWorkflow.self).databaseDirectApproval == true)
        #expect(WorkflowKind(FourEyesWorkflow.self).allowingDatabaseDirectApproval(true).databaseDirectApproval == true)
        #expect(WorkflowKind(ApprovalWorkflow.self).allowingDatabaseDirectApproval(false).databaseDirectApproval == false)
        #expect(fourEyesRegistry().catalog[FourEyesWorkflow.kind]?.databaseDirectApproval == false)
    }

    @Test("principals: a token and a Slack user as they are, a CLI user on any host")
    func principals() {
        #expect(KajiClient.principal(of: "token:alice") == "token:alice")
        #expect(KajiClient.principal(of: "slack:T1/U2") == "slack:T1/U2")
        #expect(KajiClient.principal(of: "cli:alice@host-a") == "cli:alice")
        #expect(KajiClient.principal(of: "cli:alice@host-a") == KajiClient.principal(of: "cli:alice@host-b"))
        #expect(KajiClient.principal(of: "cli:alice@evil@host") != KajiClient.principal(of: "cli:alice@host"))
        #expect(KajiClient.principal(of: "token:alice") != KajiClient.principal(of: "token:alice2"))
        #expect(KajiClient.isDatabaseDirect("cli:bob@host") && !KajiClient.isDatabaseDirect("token:cli"))
    }

    @Test("the database-direct CLI cannot approve a four-eyes run by any path, and nothing is recorded; an authenticated approver can")
    func databaseDirectRefused() async throws {
        try await TestDatabase.with { db in
            let registry = fourEyesRegistry()
            let client = db.client(registry)
            let r = try await client.enqueue(EnqueueRequest(kind: FourEyesWorkflow.kind, actor: "token:alice"))
            let pool = db.startPool(registry)
            try await eventually("the run waits for approval") { try await db.store.run(id: r.id)?.state == .waiting }
            let eventsBefore = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            for path in ApprovalPath.allCases {
                let error = try await refusal(path, client, run: r.id, sender: "cli:bob@host")
                #expect(error?.code == .permissionDenied, "\(path.rawValue): \(String(describing: error))")
                let message = error?.message ?? ""
                #expect(message.contains("cli:bob@host") && message.contains(FourEyesWorkflow.kind), "\(message)")
                #expect(message.contains("kaji serve") && message.contains("token") && message.contains("Slack"), "\(message)")
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(r.id)") == 0)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events") == eventsBefore, "a refused approval records nothing")
            #expect(try await db.store.run(id: r.id)?.state == .waiting)

            try await client.approve(runID: r.id, reason: "looks right", sender: "slack:T1/UBOB")
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.output?.contains(#""approver": "slack:T1/UBOB""#) == true)
        }
    }

    @Test("before the run waits, the CLI and the requester are refused all the same; a rejection from the CLI counts")
    func refusedBeforeTheWait() async throws {
        try await TestDatabase.with { db in
            let registry = fourEyesRegistry()
            let client = db.client(registry)
            let r = try await client.enqueue(EnqueueRequest(kind: FourEyesWorkflow.kind, actor: "token:alice"))
            // No worker yet: the run has not reached its approval step, so no wait names the requester.
            for path in ApprovalPath.allCases {
                #expect(try await refusal(path, client, run: r.id, sender: "cli:bob@host")?.code == .permissionDenied)
                let own = try await refusal(path, client, run: r.id, sender: "token:alice")
                #expect(own?.code == .invalidArgument && own?.message.contains("token:alice requested run") == true, "\(String(describing: own))")
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(r.id)") == 0)

            let unknown = UUID()
            await #expect(throws: KajiError(.runNotFound, "no run with id \(unknown)", field: "run")) {
                try await client.approve(runID: unknown, sender: "token:bob")
            }

            try await client.reject(runID: r.id, reason: "wrong zone", sender: "cli:bob@host")
            let pool = db.startPool(registry)
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .failed)
            #expect(run.lastError == "rejected by cli:bob@host: wrong zone")
        }
    }

    @Test("the requester's own principal cannot approve by any path: token, Slack, or the CLI from another host",
          arguments: [("token:alice", "token:bob"), ("slack:T1/UALICE", "slack:T1/UBOB"), ("cli:alice@host-a", "cli:bob@host-b")])
    func requesterRefused(requester: String, other: String) async throws {
        try await TestDatabase.with { db in
            let registry = fourEyesRegistry()
            // Let database-direct approvals count, so that the requester rule is what refuses the CLI's.
            var catalog = registry.catalog
            catalog.add(WorkflowKind(FourEyesWorkflow.self).allowingDatabaseDirectApproval(true))
            let client = KajiClient(store: db.store, catalog: catalog)
            let r = try await client.enqueue(EnqueueRequest(kind: FourEyesWorkflow.kind, actor: requester))
            let pool = db.startPool(registry)
            try await eventually("the run waits for approval") { try await db.store.run(id: r.id)?.state == .waiting }
            let same = requester.hasPrefix("cli:") ? "cli:alice@host-b" : requester
            for path in ApprovalPath.allCases {
                let error = try await refusal(path, client, run: r.id, sender: same)
                #expect(error?.code == .invalidArgument, "\(path.rawValue): \(String(describing: error))")
                #expect(error?.message.contains("\(same) requested run") == true, "\(String(describing: error))")
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals WHERE run_id = \(r.id)") == 0)
            try await client.approve(runID: r.id, sender: other)
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            #expect(try #require(try await db.store.runDetail(id: r.id)).output?.contains(#""approver": "\#(other)""#) == true)
        }
    }

    @Test("a run whose wait asks for a distinct approver, though its kind does not declare one, compares principals too")
    func undeclaredDistinctWait() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let r = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "cli:alice@host-a"))
            let pool = db.startPool(testRegistry())
            try await eventually("the run waits for approval") { try await db.store.run(id: r.id)?.state == .waiting }
            let error = try await refusal(.approve, client, run: r.id, sender: "cli:alice@host-b")
            #expect(error?.code == .invalidArgument && error?.message.contains("as cli:alice@host-a") == true, "\(String(describing: error))")
            // The kind lets the CLI approve: another user may.
            try await client.approve(runID: r.id, sender: "cli:bob@host-b")
            #expect(try await db.waitForFinish(r.id).state == .succeeded)
            try await pool.stop()
        }
    }
}
