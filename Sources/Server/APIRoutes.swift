import Engine
import Foundation
import Hummingbird
import Workflows

/// One route of the API: method, path (OpenAPI style, `{id}`), the least role that may call it (nil: no
/// token needed), and what it does.
struct APIRoute: Sendable {
    let method: HTTPRequest.Method
    /// The path as `openapi.yaml` writes it, under `/api/v1`.
    let path: String
    let role: APIRole?
    let handler: @Sendable (KajiServer, APICall) async throws -> Response

    /// The path in Hummingbird's syntax (`:id`).
    var hummingbirdPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }
}

// Request bodies. Each route refuses fields it does not list.
struct EnqueueBody: Decodable {
    var kind: String
    var input: JSONValue?
    var queue: String?
    var priority: Int?
    var runAt: Date?
    var idempotencyKey: String?
    var concurrencyKey: String?
    static let fields: Set<String> = ["kind", "input", "queue", "priority", "runAt", "idempotencyKey", "concurrencyKey"]
}

struct BatchBody: Decodable {
    var kind: String
    var inputs: [JSONValue]
    var queue: String?
    var priority: Int?
    var runAt: Date?
    var idempotencyKeys: [String?]?
    static let fields: Set<String> = ["kind", "inputs", "queue", "priority", "runAt", "idempotencyKeys"]
}

struct ReasonBody: Decodable {
    var reason: String?
    static let fields: Set<String> = ["reason"]
}

struct SignalBody: Decodable {
    var name: String
    var payload: JSONValue?
    static let fields: Set<String> = ["name", "payload"]
}

struct SecretBody: Decodable {
    var name: String
    var value: String
    static let fields: Set<String> = ["name", "value"]
}

struct ScheduleBody: Decodable {
    var name: String
    var cron: String
    var timezone: String?
    var kind: String
    var input: JSONValue?
    var queue: String?
    var priority: Int?
    var concurrencyKey: String?
    static let fields: Set<String> = ["name", "cron", "timezone", "kind", "input", "queue", "priority", "concurrencyKey"]
}

struct PruneBody: Decodable {
    var olderThan: String
    var batchSize: Int?
    static let fields: Set<String> = ["olderThan", "batchSize"]
}

struct TokenBody: Decodable {
    var name: String
    var role: String
    var expires: String?
    static let fields: Set<String> = ["name", "role", "expires"]
}

enum APIRoutes {
    static let prefix = "/api/v1"

    /// Every route: the contract `openapi.yaml` documents (a test checks both list the same method+path).
    static let table: [APIRoute] = [
        APIRoute(method: .get, path: prefix + "/openapi.json", role: nil) { _, _ in
            JSONBody.raw(.ok, try OpenAPIDocument.json(), contentType: "application/json; charset=utf-8")
        },
        APIRoute(method: .get, path: prefix + "/whoami", role: .viewer) { _, call in
            JSONBody.response(.ok, call.principal)
        },
        // Runs.
        APIRoute(method: .post, path: prefix + "/runs", role: .operator) { server, call in
            let body = try call.json(EnqueueBody.self, fields: EnqueueBody.fields)
            let request = EnqueueRequest(kind: body.kind, input: try APIRoutes.inputText(body.input), queue: body.queue ?? "default", priority: body.priority ?? 0,
                                         runAt: body.runAt, idempotencyKey: body.idempotencyKey, concurrencyKey: body.concurrencyKey, actor: call.actor)
            let result = try await server.client.enqueue(request)
            return JSONBody.response(result.created ? .created : .ok, result)
        },
        APIRoute(method: .post, path: prefix + "/runs/batch", role: .operator) { server, call in
            let body = try call.json(BatchBody.self, fields: BatchBody.fields)
            guard !body.inputs.isEmpty, body.inputs.count <= 10_000 else {
                throw KajiError(.invalidArgument, "inputs must hold 1-10000 inputs (got \(body.inputs.count))", field: "inputs")
            }
            let results = try await server.client.enqueueBatch(kind: body.kind, inputs: try body.inputs.map { try APIRoutes.inputText($0) }, queue: body.queue ?? "default",
                                                               priority: body.priority ?? 0, runAt: body.runAt, idempotencyKeys: body.idempotencyKeys, actor: call.actor)
            return JSONBody.response(.ok, results)
        },
        APIRoute(method: .get, path: prefix + "/runs", role: .viewer) { server, call in
            let query = RunQuery(state: try call.query("state").map { try RunState.parse($0) }, kind: try call.query("kind"), queue: try call.query("queue"),
                                 concurrencyKey: try call.query("concurrencyKey"), actor: try call.query("actor"), cursor: try call.query("cursor"),
                                 limit: try call.query("limit", default: 50))
            return JSONBody.response(.ok, try await server.client.runPage(query))
        },
        APIRoute(method: .get, path: prefix + "/runs/{id}", role: .viewer) { server, call in
            JSONBody.response(.ok, RunDocument(try await server.client.run(id: try call.runID())))
        },
        APIRoute(method: .get, path: prefix + "/runs/{id}/events", role: .viewer) { server, call in
            try await RunEventStream.response(server, call)
        },
        APIRoute(method: .post, path: prefix + "/runs/{id}/cancel", role: .operator) { server, call in
            let body = try call.json(ReasonBody.self, fields: ReasonBody.fields)
            let id = try call.runID()
            let outcome = try await server.client.cancel(runID: id, reason: body.reason, actor: call.actor)
            return JSONBody.response(.ok, CancelReceipt(id: id, outcome: outcome))
        },
        APIRoute(method: .post, path: prefix + "/runs/{id}/retry", role: .operator) { server, call in
            _ = try call.json(ReasonBody.self, fields: [])
            return JSONBody.response(.ok, try await server.client.retry(id: try call.runID(), actor: call.actor))
        },
        APIRoute(method: .post, path: prefix + "/runs/{id}/signal", role: .operator) { server, call in
            let body = try call.json(SignalBody.self, fields: SignalBody.fields)
            // A signal named approval is a decision: approvers only.
            if body.name == KajiClient.approvalSignal, let principal = call.principal, principal.role < .approver {
                throw KajiError(.permissionDenied, "\(principal.actor) has role \(principal.role.rawValue); an approval signal needs approver or above")
            }
            let receipt = try await server.client.signal(runID: try call.runID(), name: body.name, payload: try APIRoutes.inputText(body.payload), sender: call.actor)
            return JSONBody.response(.ok, receipt)
        },
        APIRoute(method: .post, path: prefix + "/runs/{id}/approve", role: .approver) { server, call in
            let body = try call.json(ReasonBody.self, fields: ReasonBody.fields)
            return JSONBody.response(.ok, try await server.client.approve(runID: try call.runID(), reason: body.reason, sender: call.actor))
        },
        APIRoute(method: .post, path: prefix + "/runs/{id}/reject", role: .approver) { server, call in
            let body = try call.json(ReasonBody.self, fields: ReasonBody.fields)
            return JSONBody.response(.ok, try await server.client.reject(runID: try call.runID(), reason: body.reason ?? "", sender: call.actor))
        },
        // Clusters and manifests.
        APIRoute(method: .get, path: prefix + "/clusters", role: .viewer) { server, _ in
            JSONBody.response(.ok, try await server.clusters.clusters())
        },
        APIRoute(method: .get, path: prefix + "/clusters/{name}", role: .viewer) { server, call in
            let name = try call.path("name")
            let record = try await server.clusters.cluster(named: name)
            return JSONBody.response(.ok, ClusterRecordWithHealth(record: record, health: try await server.clusters.health(of: name)))
        },
        APIRoute(method: .post, path: prefix + "/manifests/validate", role: .viewer) { _, call in
            let (_, report) = ClusterService.validate(yaml: try APIRoutes.manifestText(call), file: "body")
            return JSONBody.response(.ok, report)
        },
        APIRoute(method: .post, path: prefix + "/manifests/apply", role: .operator) { server, call in
            let dryRun = try call.flag("dryRun")
            let (checked, report) = ClusterService.validate(yaml: try APIRoutes.manifestText(call), file: "body")
            guard let spec = checked else { throw ApplyRefused(cluster: report.cluster ?? "?", problems: report.problems) }
            return JSONBody.response(.ok, try await server.clusters.apply(spec, dryRun: dryRun, actor: call.actor))
        },
        // Schedules.
        APIRoute(method: .get, path: prefix + "/schedules", role: .viewer) { server, _ in
            JSONBody.response(.ok, try await server.client.schedules().map(ScheduleDocument.init))
        },
        APIRoute(method: .post, path: prefix + "/schedules", role: .admin) { server, call in
            let body = try call.json(ScheduleBody.self, fields: ScheduleBody.fields)
            let request = ScheduleRequest(name: body.name, cron: body.cron, timezone: body.timezone ?? "UTC", kind: body.kind, input: try APIRoutes.inputText(body.input),
                                          queue: body.queue ?? "default", priority: body.priority ?? 0, concurrencyKey: body.concurrencyKey, actor: call.actor)
            return JSONBody.response(.created, ScheduleDocument(try await server.client.addSchedule(request)))
        },
        APIRoute(method: .delete, path: prefix + "/schedules/{name}", role: .admin) { server, call in
            let name = try call.path("name")
            try await server.client.removeSchedule(name: name, actor: call.actor)
            return JSONBody.response(.ok, ["removed": name])
        },
        APIRoute(method: .post, path: prefix + "/schedules/{name}/pause", role: .admin) { server, call in
            _ = try call.json(ReasonBody.self, fields: [])
            return JSONBody.response(.ok, ScheduleDocument(try await server.client.pauseSchedule(name: try call.path("name"), actor: call.actor)))
        },
        APIRoute(method: .post, path: prefix + "/schedules/{name}/resume", role: .admin) { server, call in
            _ = try call.json(ReasonBody.self, fields: [])
            return JSONBody.response(.ok, ScheduleDocument(try await server.client.resumeSchedule(name: try call.path("name"), actor: call.actor)))
        },
        // Retention.
        APIRoute(method: .post, path: prefix + "/prune", role: .admin) { server, call in
            let body = try call.json(PruneBody.self, fields: PruneBody.fields)
            let age = try AgeLimits.olderThan(body.olderThan)
            return JSONBody.response(.ok, try await server.client.prune(olderThan: age, batchSize: body.batchSize ?? 500, actor: call.actor))
        },
        // Tokens.
        APIRoute(method: .get, path: prefix + "/tokens", role: .admin) { server, _ in
            JSONBody.response(.ok, try await server.client.tokens())
        },
        APIRoute(method: .post, path: prefix + "/tokens", role: .admin) { server, call in
            let body = try call.json(TokenBody.self, fields: TokenBody.fields)
            let role = try APIRole.parse(body.role)
            let expiresAt = try body.expires.map { Date().addingTimeInterval(try AgeLimits.lifetime($0)) }
            return JSONBody.response(.created, try await server.client.createToken(name: body.name, role: role, expiresAt: expiresAt, actor: call.actor))
        },
        APIRoute(method: .post, path: prefix + "/tokens/{name}/revoke", role: .admin) { server, call in
            _ = try call.json(ReasonBody.self, fields: [])
            let name = try call.path("name")
            // An admin locking themselves out of the API by mistake: another admin's token, or the database, can.
            if call.principal?.actor == "token:\(name)" {
                throw KajiError(.invalidState, "token '\(name)' is the one this request is made with: revoke it with another admin's token, or with kaji token revoke on the database", field: "name")
            }
            return JSONBody.response(.ok, try await server.client.revokeToken(name: name, actor: call.actor))
        },
        // Audit.
        APIRoute(method: .get, path: prefix + "/audit", role: .viewer) { server, call in
            var filter = AuditFilter(runID: nil, actor: try call.query("actor"), type: try call.query("type"), limit: try call.query("limit", default: 100))
            if let run = try call.query("run") {
                guard let id = UUID(uuidString: run) else { throw KajiError(.invalidArgument, "run '\(run)' is not a run id (a UUID)", field: "run") }
                filter.runID = id
            }
            if let since = try call.query("since") {
                guard let date = KajiJSON.parseDate(since) else { throw KajiError(.invalidArgument, "since '\(since)' is not an ISO 8601 time", field: "since") }
                filter.since = date
            }
            return JSONBody.response(.ok, try await server.client.auditPage(filter, cursor: try call.query("cursor")))
        },
        APIRoute(method: .post, path: prefix + "/audit/verify", role: .viewer) { server, call in
            let head = try call.query("expectHead").map { try AuditHead.parse($0) }
            return JSONBody.response(.ok, try await server.client.verifyAudit(expectHead: head))
        },
        // Secrets.
        APIRoute(method: .post, path: prefix + "/secrets", role: .admin) { server, call in
            let body = try call.json(SecretBody.self, fields: SecretBody.fields)
            let keys = try server.requireKeys()
            return JSONBody.response(.created, try await server.client.storeSecret(body.value, name: body.name, key: keys.current, actor: call.actor))
        },
        APIRoute(method: .get, path: prefix + "/secrets", role: .admin) { server, call in
            JSONBody.response(.ok, try await server.client.secrets(name: try call.query("name"), limit: try call.query("limit", default: 100)))
        },
        APIRoute(method: .post, path: prefix + "/secrets/{reference}/reveal", role: .admin) { server, call in
            let secret = try KajiClient.secret(reference: try call.path("reference"))
            let keys = try server.requireKeys()
            return JSONBody.response(.ok, try await server.client.revealSecret(secret, keys: keys, actor: call.actor))
        },
    ]

    /// A JSON value of a body as the JSON text the engine takes (absent: `{}`).
    static func inputText(_ value: JSONValue?) throws -> String {
        guard let value else { return "{}" }
        return String(decoding: value.encoded(), as: UTF8.self)
    }

    /// A manifest body: YAML (application/yaml, text/yaml, application/x-yaml) or JSON (a YAML document
    /// too). Other types are refused (415); an empty body is a 400.
    static func manifestText(_ call: APICall) throws -> String {
        let type = (call.request.headers[.contentType] ?? "application/yaml").lowercased()
        let taken = ["application/yaml", "application/x-yaml", "text/yaml", "application/json"]
        guard taken.contains(where: { type.hasPrefix($0) }) else {
            throw KajiError(.unsupportedMediaType, "Content-Type '\(type)' is not taken here: send a manifest as application/yaml or application/json", field: "body")
        }
        guard !call.body.isEmpty, let text = String(data: call.body, encoding: .utf8) else {
            throw KajiError(.malformedBody, "body must be a cluster manifest in UTF-8 (YAML or JSON)", field: "body")
        }
        return try APICall.noNUL(text, field: "body")
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
