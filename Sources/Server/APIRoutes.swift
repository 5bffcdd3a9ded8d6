import Engine
import Foundation
import OpenAPIRuntime
import Workflows

/// Every operation of `openapi.yaml`: the least role that may call it and how it reads its body (the gate,
/// `APIGate`, checks both before the generated server decodes the request). A test checks that these, the
/// generated operations and the document's `x-kaji-role` agree.
enum APIRoutes {
    static let prefix = "/api/v1"

    static let operations: [String: APIOperation] = [
        Operations.GetOpenAPI.id: .init(role: nil, body: .none),
        Operations.Whoami.id: .init(role: .viewer, body: .none),
        // Runs.
        Operations.ListRuns.id: .init(role: .viewer, body: .none),
        Operations.Enqueue.id: .init(role: .operator, body: .json),
        Operations.EnqueueBatch.id: .init(role: .operator, body: .json),
        Operations.GetRun.id: .init(role: .viewer, body: .none),
        Operations.RunEvents.id: .init(role: .viewer, body: .none),
        Operations.CancelRun.id: .init(role: .operator, body: .json),
        Operations.RetryRun.id: .init(role: .operator, body: .json),
        Operations.SignalRun.id: .init(role: .operator, body: .json),
        Operations.ApproveRun.id: .init(role: .approver, body: .json),
        Operations.RejectRun.id: .init(role: .approver, body: .json),
        // Clusters and manifests.
        Operations.ListClusters.id: .init(role: .viewer, body: .none),
        Operations.GetCluster.id: .init(role: .viewer, body: .none),
        Operations.ValidateManifest.id: .init(role: .viewer, body: .manifest),
        Operations.ApplyManifest.id: .init(role: .operator, body: .manifest),
        // Schedules.
        Operations.ListSchedules.id: .init(role: .viewer, body: .none),
        Operations.AddSchedule.id: .init(role: .admin, body: .json),
        Operations.RemoveSchedule.id: .init(role: .admin, body: .none),
        Operations.PauseSchedule.id: .init(role: .admin, body: .json),
        Operations.ResumeSchedule.id: .init(role: .admin, body: .json),
        // Retention.
        Operations.Prune.id: .init(role: .admin, body: .json),
        // Tokens.
        Operations.ListTokens.id: .init(role: .admin, body: .none),
        Operations.CreateToken.id: .init(role: .admin, body: .json),
        Operations.RevokeToken.id: .init(role: .admin, body: .json),
        // Audit.
        Operations.ListAudit.id: .init(role: .viewer, body: .none),
        Operations.VerifyAudit.id: .init(role: .viewer, body: .none),
        // Secrets.
        Operations.ListSecrets.id: .init(role: .admin, body: .none),
        Operations.StoreSecret.id: .init(role: .admin, body: .json),
        Operations.RevealSecret.id: .init(role: .admin, body: .none),
    ]

    /// A JSON value of a body as the JSON text the engine takes (absent: `{}`).
    static func inputText(_ value: JSONValue?) throws -> String {
        guard let value else { return "{}" }
        return String(decoding: value.encoded(), as: UTF8.self)
    }

    /// A free-form JSON value of a generated body as the JSON text the engine takes (absent: `{}`).
    static func inputText(_ value: OpenAPIValueContainer?) throws -> String {
        guard let value else { return "{}" }
        return String(decoding: try KajiJSON.encoder().encode(value), as: UTF8.self)
    }

    /// A manifest body (the gate took it as YAML or JSON, UTF-8, without NUL).
    static func manifestText(_ body: HTTPBody) async throws -> String {
        let data = try await Data(collecting: body, upTo: KajiServer.maxBodyBytes)
        guard let text = String(data: data, encoding: .utf8) else {
            throw KajiError(.malformedBody, "body must be a cluster manifest in UTF-8 (YAML or JSON)", field: "body")
        }
        return text
    }

    /// This document as JSON, read once.
    static let document: Result<OpenAPIObjectContainer, any Error> = Result {
        try KajiJSON.decoder().decode(OpenAPIObjectContainer.self, from: Data(try OpenAPIDocument.json().utf8))
    }
}

/// The operations of `openapi.yaml` (`APIProtocol`, generated), each calling `KajiClient` or
/// `ClusterService`. The gate has authenticated the caller (`APIGate.principal`) and checked the body;
/// the generated server decoded the input and encodes the output.
struct APIHandler: APIProtocol {
    private let kaji: KajiServer?

    /// - Parameter server: the server whose client the operations call (nil: only to list the routes).
    init(server: KajiServer?) { self.kaji = server }

    var server: KajiServer {
        get throws {
            guard let kaji else { throw KajiError(.notConfigured, "this handler only lists the routes") }
            return kaji
        }
    }

    /// The caller (nil only on `getOpenAPI`).
    var principal: Principal? { APIGate.principal }

    /// The actor to record: `token:NAME`.
    var actor: String { principal?.actor ?? "anonymous" }

    /// The run id of a path (the gate has checked that it is a UUID).
    func runID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw KajiError(.runNotFound, "no run with id '\(text)' (a run id is a UUID)", field: "run") }
        return id
    }

    func getOpenAPI(_ input: Operations.GetOpenAPI.Input) async throws -> Operations.GetOpenAPI.Output {
        .ok(.init(body: .json(try APIRoutes.document.get())))
    }

    func whoami(_ input: Operations.Whoami.Input) async throws -> Operations.Whoami.Output {
        guard let principal else { throw KajiError(.unauthenticated, "no caller") }
        return .ok(.init(body: .json(.init(principal))))
    }

    // MARK: Runs

    func listRuns(_ input: Operations.ListRuns.Input) async throws -> Operations.ListRuns.Output {
        let q = input.query
        let query = RunQuery(state: try q.state.map { try RunState.parse($0.rawValue) }, kind: q.kind, queue: q.queue, concurrencyKey: q.concurrencyKey,
                             actor: q.actor, cursor: q.cursor, limit: q.limit ?? 50)
        return .ok(.init(body: .json(.init(try await server.client.runPage(query)))))
    }

    func enqueue(_ input: Operations.Enqueue.Input) async throws -> Operations.Enqueue.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        let request = EnqueueRequest(kind: body.kind, input: try APIRoutes.inputText(body.input), queue: body.queue ?? "default", priority: body.priority ?? 0,
                                     runAt: body.runAt, idempotencyKey: body.idempotencyKey, concurrencyKey: body.concurrencyKey, actor: actor)
        let result = try await server.client.enqueue(request)
        return result.created ? .created(.init(body: .json(.init(result)))) : .ok(.init(body: .json(.init(result))))
    }

    func enqueueBatch(_ input: Operations.EnqueueBatch.Input) async throws -> Operations.EnqueueBatch.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        guard !body.inputs.isEmpty, body.inputs.count <= 10_000 else {
            throw KajiError(.invalidArgument, "inputs must hold 1-10000 inputs (got \(body.inputs.count))", field: "inputs")
        }
        let results = try await server.client.enqueueBatch(kind: body.kind, inputs: try body.inputs.map { try APIRoutes.inputText($0) }, queue: body.queue ?? "default",
                                                           priority: body.priority ?? 0, runAt: body.runAt, idempotencyKeys: body.idempotencyKeys, actor: actor)
        return .ok(.init(body: .json(results.map(EnqueueResultDocument.init))))
    }

    func getRun(_ input: Operations.GetRun.Input) async throws -> Operations.GetRun.Output {
        .ok(.init(body: .json(.init(RunDocument(try await server.client.run(id: try runID(input.path.id)))))))
    }

    func runEvents(_ input: Operations.RunEvents.Input) async throws -> Operations.RunEvents.Output {
        let id = try runID(input.path.id)
        var cursor = RunEventCursor.start
        if let header = input.headers.lastEventID {
            cursor = try RunEventCursor(parsing: try APICall.noNUL(header, field: "Last-Event-ID"), field: "Last-Event-ID")
        } else if let query = input.query.lastEventId {
            cursor = try RunEventCursor(parsing: query.value2, field: "lastEventId")
        }
        return .ok(.init(body: .textEventStream(try await RunEventStream.body(server, run: id, after: cursor))))
    }

    func cancelRun(_ input: Operations.CancelRun.Input) async throws -> Operations.CancelRun.Output {
        let reason = if case .json(let body) = input.body { body.reason } else { String?.none }
        let id = try runID(input.path.id)
        let outcome = try await server.client.cancel(runID: id, reason: reason, actor: actor)
        return .ok(.init(body: .json(.init(CancelReceipt(id: id, outcome: outcome)))))
    }

    func retryRun(_ input: Operations.RetryRun.Input) async throws -> Operations.RetryRun.Output {
        .ok(.init(body: .json(.init(try await server.client.retry(id: try runID(input.path.id), actor: actor)))))
    }

    func signalRun(_ input: Operations.SignalRun.Input) async throws -> Operations.SignalRun.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        // A signal named approval is a decision: approvers only.
        if body.name == KajiClient.approvalSignal, let principal, principal.role < .approver {
            throw KajiError(.permissionDenied, "\(principal.actor) has role \(principal.role.rawValue); an approval signal needs approver or above")
        }
        let receipt = try await server.client.signal(runID: try runID(input.path.id), name: body.name, payload: try APIRoutes.inputText(body.payload), sender: actor)
        return .ok(Self.signalReceipt(receipt))
    }

    func approveRun(_ input: Operations.ApproveRun.Input) async throws -> Operations.ApproveRun.Output {
        let reason = if case .json(let body) = input.body { body.reason } else { String?.none }
        return .ok(Self.signalReceipt(try await server.client.approve(runID: try runID(input.path.id), reason: reason, sender: actor)))
    }

    func rejectRun(_ input: Operations.RejectRun.Input) async throws -> Operations.RejectRun.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        return .ok(Self.signalReceipt(try await server.client.reject(runID: try runID(input.path.id), reason: body.reason, sender: actor)))
    }

    static func signalReceipt(_ receipt: SignalReceipt) -> Components.Responses.SignalReceipt {
        // The run id as the engine's JSON writes a UUID (upper case), as before.
        .init(body: .json(.init(run: receipt.run.uuidString, signal: receipt.signal, signalId: Int(receipt.signalId), sender: receipt.sender)))
    }

    // MARK: Clusters and manifests

    func listClusters(_ input: Operations.ListClusters.Input) async throws -> Operations.ListClusters.Output {
        .ok(.init(body: .json(try await server.clusters.clusters().map(ClusterDocument.init))))
    }

    func getCluster(_ input: Operations.GetCluster.Input) async throws -> Operations.GetCluster.Output {
        // Path names arrive percent-decoded (`n%3A1` is `n:1`).
        let name = input.path.name
        let record = try await server.clusters.cluster(named: name)
        let document = ClusterRecordWithHealth(record: record, health: try await server.clusters.health(of: name))
        // The record's part of the allOf writes the whole document, its `health` an explicit null when the
        // cluster was never checked; the generated part for `health` would leave a nil out, so it stays empty.
        return .ok(.init(body: .json(.init(value1: .init(record, writing: document), value2: .init()))))
    }

    func validateManifest(_ input: Operations.ValidateManifest.Input) async throws -> Operations.ValidateManifest.Output {
        let (_, report) = ClusterService.validate(yaml: try await manifest(input.body), file: "body")
        return .ok(.init(body: .json(.init(report))))
    }

    func applyManifest(_ input: Operations.ApplyManifest.Input) async throws -> Operations.ApplyManifest.Output {
        let (checked, report) = ClusterService.validate(yaml: try await manifest(input.body), file: "body")
        guard let spec = checked else { throw ApplyRefused(cluster: report.cluster ?? "?", problems: report.problems) }
        return .ok(.init(body: .json(.init(try await server.clusters.apply(spec, dryRun: input.query.dryRun ?? false, actor: actor)))))
    }

    /// The manifest's text: the gate hands every manifest over as YAML (JSON is YAML too).
    private func manifest(_ body: Operations.ValidateManifest.Input.Body) async throws -> String {
        switch body {
        case .yaml(let body): return try await APIRoutes.manifestText(body)
        case .json: throw KajiError(.malformedBody, "body must be a cluster manifest (YAML or JSON)", field: "body")
        }
    }

    private func manifest(_ body: Operations.ApplyManifest.Input.Body) async throws -> String {
        switch body {
        case .yaml(let body): return try await APIRoutes.manifestText(body)
        case .json: throw KajiError(.malformedBody, "body must be a cluster manifest (YAML or JSON)", field: "body")
        }
    }

    // MARK: Schedules

    func listSchedules(_ input: Operations.ListSchedules.Input) async throws -> Operations.ListSchedules.Output {
        .ok(.init(body: .json(try await server.client.schedules().map { ScheduleEntryDocument(ScheduleDocument($0)) })))
    }

    func addSchedule(_ input: Operations.AddSchedule.Input) async throws -> Operations.AddSchedule.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        let request = ScheduleRequest(name: body.name, cron: body.cron, timezone: body.timezone ?? "UTC", kind: body.kind, input: try APIRoutes.inputText(body.input),
                                      queue: body.queue ?? "default", priority: body.priority ?? 0, concurrencyKey: body.concurrencyKey, actor: actor)
        return .created(.init(body: .json(.init(ScheduleDocument(try await server.client.addSchedule(request))))))
    }

    func removeSchedule(_ input: Operations.RemoveSchedule.Input) async throws -> Operations.RemoveSchedule.Output {
        let name = input.path.name
        try await server.client.removeSchedule(name: name, actor: actor)
        return .ok(.init(body: .json(.init(removed: name))))
    }

    func pauseSchedule(_ input: Operations.PauseSchedule.Input) async throws -> Operations.PauseSchedule.Output {
        .ok(.init(body: .json(.init(ScheduleDocument(try await server.client.pauseSchedule(name: input.path.name, actor: actor))))))
    }

    func resumeSchedule(_ input: Operations.ResumeSchedule.Input) async throws -> Operations.ResumeSchedule.Output {
        .ok(.init(body: .json(.init(ScheduleDocument(try await server.client.resumeSchedule(name: input.path.name, actor: actor))))))
    }

    // MARK: Retention

    func prune(_ input: Operations.Prune.Input) async throws -> Operations.Prune.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        let age = try AgeLimits.olderThan(body.olderThan)
        return .ok(.init(body: .json(.init(try await server.client.prune(olderThan: age, batchSize: body.batchSize ?? 500, actor: actor)))))
    }

    // MARK: Tokens

    func listTokens(_ input: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output {
        .ok(.init(body: .json(try await server.client.tokens().map(TokenDocument.init))))
    }

    func createToken(_ input: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        let role = try APIRole.parse(body.role.rawValue)
        let expiresAt = try body.expires.map { Date().addingTimeInterval(try AgeLimits.lifetime($0)) }
        return .created(.init(body: .json(.init(try await server.client.createToken(name: body.name, role: role, expiresAt: expiresAt, actor: actor)))))
    }

    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let name = input.path.name
        // An admin locking themselves out of the API by mistake: another admin's token, or the database, can.
        if principal?.actor == "token:\(name)" {
            throw KajiError(.invalidState, "token '\(name)' is the one this request is made with: revoke it with another admin's token, or with kaji token revoke on the database", field: "name")
        }
        return .ok(.init(body: .json(.init(try await server.client.revokeToken(name: name, actor: actor)))))
    }

    // MARK: Audit

    func listAudit(_ input: Operations.ListAudit.Input) async throws -> Operations.ListAudit.Output {
        let q = input.query
        var filter = AuditFilter(runID: nil, actor: q.actor, type: q._type?.rawValue, limit: q.limit ?? 100)
        if let run = q.run {
            guard let id = UUID(uuidString: run) else { throw KajiError(.invalidArgument, "run '\(run)' is not a run id (a UUID)", field: "run") }
            filter.runID = id
        }
        filter.since = q.since
        return .ok(.init(body: .json(.init(try await server.client.auditPage(filter, cursor: q.cursor)))))
    }

    func verifyAudit(_ input: Operations.VerifyAudit.Input) async throws -> Operations.VerifyAudit.Output {
        let head = try input.query.expectHead.map { try AuditHead.parse($0) }
        return .ok(.init(body: .json(.init(try await server.client.verifyAudit(expectHead: head)))))
    }

    // MARK: Secrets

    func listSecrets(_ input: Operations.ListSecrets.Input) async throws -> Operations.ListSecrets.Output {
        .ok(.init(body: .json(try await server.client.secrets(name: input.query.name, limit: input.query.limit ?? 100).map(SecretInfoDocument.init))))
    }

    func storeSecret(_ input: Operations.StoreSecret.Input) async throws -> Operations.StoreSecret.Output {
        guard case .json(let body) = input.body else { throw KajiError(.unsupportedMediaType, "send application/json", field: "body") }
        let keys = try server.requireKeys()
        return .created(.init(body: .json(.init(try await server.client.storeSecret(body.value, name: body.name, key: keys.current, actor: actor)))))
    }

    func revealSecret(_ input: Operations.RevealSecret.Input) async throws -> Operations.RevealSecret.Output {
        let secret = try KajiClient.secret(reference: input.path.reference)
        let keys = try server.requireKeys()
        let revealed = try await server.client.revealSecret(secret, keys: keys, actor: actor)
        return .ok(.init(body: .json(.init(secret: revealed.secret, value: revealed.value))))
    }
}

extension KajiServer {
    func requireKeys() throws -> SecretKeyring {
        guard let keys else {
            throw KajiError(.notConfigured, "this server has no secret key: start kaji serve with KAJI_SECRET_KEY or KAJI_SECRET_KEY_FILE")
        }
        return keys
    }
}
