import Engine
import Foundation
import KajiTesting
import Logging
import NIOHTTP1
import Server
import Testing
import Worker

/// Waits for an approval by someone other than the requester.
struct ServerApprovalWorkflow: Workflow {
    static let kind = "server-test.approval"
    struct Input: Codable, Sendable {}
    func run(_ input: Input, context: WorkflowContext) async throws -> Approval {
        try await context.waitForApproval()
    }
}

@Suite("kaji serve: the HTTP API", .needsDatabase, .timeLimit(.minutes(3)))
struct ServerAPITests {
    @Test("a role × route table: no token 401, a role below the route's 403, the route's role gets past auth")
    func roleTable() async throws {
        try await ServeFixture.with { fx in
            var tokens: [APIRole: String] = [:]
            for role in APIRole.allCases { tokens[role] = try await fx.token("t-\(role.rawValue)", role) }
            let run = UUID().uuidString
            // (method, path, body, least role). Unknown runs and names make the authorized calls 404/422, never 401/403.
            let table: [(HTTPMethod, String, String?, APIRole)] = [
                (.GET, "/api/v1/whoami", nil, .viewer),
                (.GET, "/api/v1/runs", nil, .viewer),
                (.GET, "/api/v1/runs/\(run)", nil, .viewer),
                (.POST, "/api/v1/runs", #"{"kind": "diag.steps", "input": {"steps": 1}}"#, .operator),
                (.POST, "/api/v1/runs/batch", #"{"kind": "diag.steps", "inputs": [{"steps": 1}]}"#, .operator),
                (.POST, "/api/v1/runs/\(run)/cancel", "{}", .operator),
                (.POST, "/api/v1/runs/\(run)/retry", "{}", .operator),
                (.POST, "/api/v1/runs/\(run)/signal", #"{"name": "go"}"#, .operator),
                (.POST, "/api/v1/runs/\(run)/approve", "{}", .approver),
                (.POST, "/api/v1/runs/\(run)/reject", #"{"reason": "no"}"#, .approver),
                (.GET, "/api/v1/clusters", nil, .viewer),
                (.GET, "/api/v1/clusters/nope", nil, .viewer),
                (.GET, "/api/v1/schedules", nil, .viewer),
                (.DELETE, "/api/v1/schedules/nope", nil, .admin),
                (.GET, "/api/v1/audit", nil, .viewer),
                (.POST, "/api/v1/audit/verify", nil, .viewer),
                (.GET, "/api/v1/secrets", nil, .admin),
                (.POST, "/api/v1/secrets/secret:\(run)/reveal", nil, .admin),
                (.GET, "/api/v1/runs/\(run)/events", nil, .viewer),
                (.POST, "/api/v1/schedules/nope/pause", nil, .admin),
                (.POST, "/api/v1/schedules/nope/resume", nil, .admin),
                (.POST, "/api/v1/prune", #"{"olderThan": "3650d"}"#, .admin),
                (.GET, "/api/v1/tokens", nil, .admin),
                (.POST, "/api/v1/tokens", #"{"name": "made-here", "role": "viewer"}"#, .admin),
                (.POST, "/api/v1/tokens/nobody/revoke", nil, .admin),
            ]
            for (method, path, body, least) in table {
                let anonymous = try await fx.call(method, path, body: body)
                #expect(anonymous.status == 401, "\(method) \(path) without a token: \(anonymous.status) \(anonymous.body)")
                #expect(anonymous.errorCode == "unauthenticated")
                for role in APIRole.allCases {
                    let reply = try await fx.call(method, path, token: tokens[role], body: body)
                    if role < least {
                        #expect(reply.status == 403, "\(method) \(path) as \(role): \(reply.status) \(reply.body)")
                        #expect(reply.errorCode == "permission_denied")
                    } else {
                        #expect(![401, 403, 500].contains(reply.status), "\(method) \(path) as \(role): \(reply.status) \(reply.body)")
                    }
                }
            }
            let openapi = try await fx.call(.GET, "/api/v1/openapi.json")
            #expect(openapi.status == 200)
            #expect((openapi.object["openapi"] as? String) == "3.1.0")
        }
    }

    @Test("enqueue, list, show, cancel and retry over HTTP, with the CLI's JSON shapes and the token as actor")
    func runs() async throws {
        try await ServeFixture.with { fx in
            let op = try await fx.token("ci-bot", .operator)
            let enqueued = try await fx.call(.POST, "/api/v1/runs", token: op,
                                             body: #"{"kind": "diag.steps", "input": {"steps": 2}, "idempotencyKey": "k1"}"#)
            #expect(enqueued.status == 201, "\(enqueued.body)")
            let id = try #require(enqueued.object["id"] as? String)
            #expect(enqueued.object["created"] as? Bool == true)
            let again = try await fx.call(.POST, "/api/v1/runs", token: op,
                                          body: #"{"kind": "diag.steps", "input": {"steps": 2}, "idempotencyKey": "k1"}"#)
            #expect(again.status == 200)
            #expect(again.object["id"] as? String == id)
            #expect(again.object["created"] as? Bool == false)

            let list = try await fx.call(.GET, "/api/v1/runs?state=pending&limit=10", token: op)
            #expect(list.status == 200)
            let runs = try #require(list.object["items"] as? [[String: Any]])
            #expect(runs.count == 1)
            #expect(list.object["nextCursor"] is NSNull, "one page: \(list.body)")
            #expect(runs.first?["state"] as? String == "pending")

            let show = try await fx.call(.GET, "/api/v1/runs/\(id)", token: op)
            #expect(show.status == 200)
            #expect(show.object["kind"] as? String == "diag.steps")
            let events = try #require(show.object["events"] as? [[String: Any]])
            #expect(events.first?["actor"] as? String == "token:ci-bot")

            let cancel = try await fx.call(.POST, "/api/v1/runs/\(id)/cancel", token: op, body: #"{"reason": "not needed"}"#)
            #expect(cancel.status == 200, "\(cancel.body)")
            #expect(cancel.object["outcome"] as? String == "cancelled")
            let cancelTwice = try await fx.call(.POST, "/api/v1/runs/\(id)/cancel", token: op, body: "{}")
            #expect(cancelTwice.status == 409, "\(cancelTwice.body)")
            let retry = try await fx.call(.POST, "/api/v1/runs/\(id)/retry", token: op)
            #expect(retry.status == 200, "\(retry.body)")
            #expect(retry.object["state"] as? String == "pending")

            let batch = try await fx.call(.POST, "/api/v1/runs/batch", token: op, body: #"{"kind": "diag.steps", "inputs": [{"steps": 1}, {"steps": 2}]}"#)
            #expect(batch.status == 200)
            #expect((batch.json as? [Any])?.count == 2)

            let audit = try await fx.call(.GET, "/api/v1/audit?actor=token:ci-bot", token: op)
            #expect(audit.status == 200)
            #expect(((audit.object["items"] as? [[String: Any]]) ?? []).contains { $0["type"] as? String == "run.cancelled" })
            let verify = try await fx.call(.POST, "/api/v1/audit/verify", token: op)
            #expect(verify.object["ok"] as? Bool == true, "\(verify.body)")
        }
    }

    @Test("bad input: non-JSON, wrong shape, unknown field, huge body, wrong type, unknown run, bad tokens")
    func badInput() async throws {
        try await ServeFixture.with { fx in
            let op = try await fx.token("op", .operator)
            let viewer = try await fx.token("viewer", .viewer)
            let before = try await fx.client.runs().count
            let cases: [(String, String?, String?, Int, String)] = [
                ("non-JSON", "{kind: ", "application/json", 400, "malformed_body"),
                ("not an object", "[1, 2]", "application/json", 422, "invalid_argument"),
                ("unknown field", #"{"kind": "diag.steps", "colour": "red"}"#, "application/json", 422, "invalid_argument"),
                ("wrong type", #"{"kind": 7}"#, "application/json", 422, "invalid_argument"),
                ("missing kind", #"{"input": {}}"#, "application/json", 422, "invalid_argument"),
                ("unknown kind", #"{"kind": "no.such"}"#, "application/json", 422, "unknown_kind"),
                ("bad input", #"{"kind": "diag.steps", "input": {"steps": "many"}}"#, "application/json", 422, "invalid_input"),
                ("bad queue", #"{"kind": "diag.steps", "queue": "a b"}"#, "application/json", 422, "invalid_argument"),
                ("form body", "kind=diag.steps", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
                ("huge body", #"{"kind": "diag.steps", "input": {"pad": ""# + String(repeating: "x", count: 1_100_000) + #""}}"#, "application/json", 413, "payload_too_large"),
            ]
            for (what, body, type, status, code) in cases {
                let reply = try await fx.call(.POST, "/api/v1/runs", token: op, body: body, contentType: type)
                #expect(reply.status == status, "\(what): \(reply.status) \(reply.body.prefix(300))")
                #expect(reply.errorCode == code, "\(what): \(reply.body.prefix(300))")
            }
            // PostgreSQL text cannot hold NUL: refused as input (schemathesis found it as a 500).
            let nul = try await fx.call(.POST, "/api/v1/runs/\(UUID().uuidString)/cancel", token: op, body: #"{"reason": "a\u0000b"}"#)
            #expect(nul.status == 422, "\(nul.body)")
            let nulQuery = try await fx.call(.GET, "/api/v1/runs?kind=a%00b", token: viewer)
            #expect(nulQuery.status == 422, "\(nulQuery.body)")
            let field = try await fx.call(.POST, "/api/v1/runs", token: op, body: #"{"kind": "diag.steps", "colour": "red"}"#)
            #expect((field.object["error"] as? [String: Any])?["field"] as? String == "colour")
            #expect(try await fx.client.runs().count == before, "bad input enqueued nothing")

            let unknownRun = try await fx.call(.GET, "/api/v1/runs/\(UUID().uuidString)", token: viewer)
            #expect(unknownRun.status == 404)
            #expect(unknownRun.errorCode == "run_not_found")
            let notAnID = try await fx.call(.GET, "/api/v1/runs/abc", token: viewer)
            #expect(notAnID.status == 404)
            let noRoute = try await fx.call(.GET, "/api/v1/nothing-here", token: viewer)
            #expect(noRoute.status == 404)
            #expect(noRoute.errorCode == "route_not_found")
            let badState = try await fx.call(.GET, "/api/v1/runs?state=sleeping", token: viewer)
            #expect(badState.status == 422)
            #expect((badState.object["error"] as? [String: Any])?["field"] as? String == "state")

            // Tokens: unknown, malformed, revoked, expired; none is echoed back.
            let revoked = try await fx.token("gone", .admin)
            try await fx.client.revokeToken(name: "gone", actor: "test")
            let expired = try await fx.token("short", .admin, expiresAt: Date().addingTimeInterval(1))
            try await Task.sleep(for: .milliseconds(1200))
            for (what, token) in [("unknown", "kaji_" + String(repeating: "A", count: 43)), ("not a kaji token", "hello"), ("revoked", revoked), ("expired", expired)] {
                let reply = try await fx.call(.GET, "/api/v1/runs", token: token)
                #expect(reply.status == 401, "\(what): \(reply.status)")
                #expect(reply.errorCode == "unauthenticated")
                #expect(!reply.body.contains(token), "the token is never echoed")
            }
            let basic = try await fx.call(.GET, "/api/v1/runs", headers: [("Authorization", "Basic dXNlcjpwYXNz")])
            #expect(basic.status == 401)

            let viewerEnqueue = try await fx.call(.POST, "/api/v1/runs", token: viewer, body: #"{"kind": "diag.steps"}"#)
            #expect(viewerEnqueue.status == 403)
            #expect(try await fx.client.runs().count == before)
            // An approval sent as a plain signal still needs an approver.
            let opApproval = try await fx.call(.POST, "/api/v1/runs/\(UUID().uuidString)/signal", token: op, body: #"{"name": "approval", "payload": {"approved": true}}"#)
            #expect(opApproval.status == 403)
        }
    }

    @Test("the four-eyes rule compares authenticated principals: the requester's token cannot approve, another approver's can")
    func fourEyes() async throws {
        let registry: WorkflowRegistry = {
            var registry = WorkflowRegistry()
            registry.register(ServerApprovalWorkflow())
            return registry
        }()
        try await ServeFixture.with(catalog: registry.catalog) { fx in
            let alice = try await fx.token("alice", .approver)
            let bob = try await fx.token("bob", .approver)
            // Enqueued as alice would through the API (the serve process's catalog does not know this test kind).
            let run = try await fx.client.enqueue(EnqueueRequest(kind: ServerApprovalWorkflow.kind, actor: "token:alice"))
            var logger = Logger(label: "server-test.pool")
            logger.logLevel = .critical
            let pool = WorkerPool(configuration: WorkerConfiguration(concurrency: 2, pollInterval: .milliseconds(200)), store: fx.client.store, registry: registry, logger: logger)
            let task = Task { try await pool.run() }
            defer { pool.shutdown() }
            let deadline = ContinuousClock.now + .seconds(30)
            while try await fx.client.runSummary(id: run.id).state != .waiting {
                guard ContinuousClock.now < deadline else { throw KajiTestingError("the run did not wait for approval") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let own = try await fx.call(.POST, "/api/v1/runs/\(run.id)/approve", token: alice, body: "{}")
            #expect(own.status == 422, "\(own.body)")
            #expect(own.body.contains("token:alice requested run"))
            let viaSignal = try await fx.call(.POST, "/api/v1/runs/\(run.id)/signal", token: alice, body: #"{"name": "approval", "payload": {"approved": true}}"#)
            #expect(viaSignal.status == 422, "\(viaSignal.body)")
            let other = try await fx.call(.POST, "/api/v1/runs/\(run.id)/approve", token: bob, body: #"{"reason": "looks right"}"#)
            #expect(other.status == 200, "\(other.body)")
            #expect(other.object["sender"] as? String == "token:bob")
            while try await fx.client.runSummary(id: run.id).state != .succeeded {
                guard ContinuousClock.now < deadline else { throw KajiTestingError("the approved run did not finish") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let detail = try await fx.client.run(id: run.id)
            #expect(detail.output?.contains("token:bob") == true)
            pool.shutdown()
            try await task.value
        }
    }

    @Test("secrets: stored by an admin, revealed only by an admin and audited, the value never in the audit trail")
    func secrets() async throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await ServeFixture.with(environment: ["KAJI_SECRET_KEY": key]) { fx in
            let admin = try await fx.token("root", .admin)
            let approver = try await fx.token("appr", .approver)
            let stored = try await fx.call(.POST, "/api/v1/secrets", token: admin, body: #"{"name": "db", "value": "s3cr3t-value"}"#)
            #expect(stored.status == 201, "\(stored.body)")
            let reference = try #require(stored.object["reference"] as? String)
            #expect(!stored.body.contains("s3cr3t-value"))
            let denied = try await fx.call(.POST, "/api/v1/secrets/\(reference)/reveal", token: approver)
            #expect(denied.status == 403)
            let revealed = try await fx.call(.POST, "/api/v1/secrets/\(reference)/reveal", token: admin)
            #expect(revealed.status == 200)
            #expect(revealed.object["value"] as? String == "s3cr3t-value")
            let audit = try await fx.call(.GET, "/api/v1/audit?type=secret.revealed", token: admin)
            #expect(audit.body.contains("token:root"))
            #expect(!audit.body.contains("s3cr3t-value"))
        }
    }

    @Test("admin routes: schedule pause and resume, prune, tokens; a token cannot revoke itself; names in paths may be percent-encoded")
    func adminRoutes() async throws {
        try await ServeFixture.with { fx in
            let admin = try await fx.token("root", .admin)
            let added = try await fx.call(.POST, "/api/v1/schedules", token: admin, body: #"{"name": "n:1", "cron": "@daily", "kind": "diag.steps"}"#)
            #expect(added.status == 201, "\(added.body)")
            let paused = try await fx.call(.POST, "/api/v1/schedules/n%3A1/pause", token: admin)
            #expect(paused.status == 200, "\(paused.body)")
            #expect(paused.object["paused"] as? Bool == true)
            #expect(try await fx.client.schedule(name: "n:1")?.paused == true)
            let resumed = try await fx.call(.POST, "/api/v1/schedules/n:1/resume", token: admin, body: "{}")
            #expect(resumed.object["paused"] as? Bool == false, "\(resumed.body)")
            let extra = try await fx.call(.POST, "/api/v1/schedules/n:1/pause", token: admin, body: #"{"why": "x"}"#)
            #expect(extra.status == 422)
            #expect(extra.errorField == "why")

            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            try await fx.client.cancel(runID: run.id, reason: nil, actor: "test")
            try await eventually("the run is a second old") {
                try await fx.db.scalarInt("SELECT count(*)::int8 FROM runs WHERE finished_at < now() - interval '1 second'") == 1
            }
            let pruned = try await fx.call(.POST, "/api/v1/prune", token: admin, body: #"{"olderThan": "1s", "batchSize": 10}"#)
            #expect(pruned.status == 200, "\(pruned.body)")
            #expect(pruned.object["runs"] as? Int == 1)
            let badAge = try await fx.call(.POST, "/api/v1/prune", token: admin, body: #"{"olderThan": "1000000d1000000d"}"#)
            #expect(badAge.status == 422, "far past PostgreSQL's times: \(badAge.body)")
            #expect(badAge.errorField == "olderThan")

            let created = try await fx.call(.POST, "/api/v1/tokens", token: admin, body: #"{"name": "ci", "role": "operator", "expires": "30d"}"#)
            #expect(created.status == 201, "\(created.body)")
            let secret = try #require(created.object["token"] as? String)
            let list = try await fx.call(.GET, "/api/v1/tokens", token: admin)
            #expect((list.json as? [[String: Any]])?.map { $0["name"] as? String } == ["ci", "root"])
            #expect(!list.body.contains(secret))
            #expect((list.json as? [[String: Any]])?.first?["createdBy"] as? String == "token:root")
            let taken = try await fx.call(.POST, "/api/v1/tokens", token: admin, body: #"{"name": "ci", "role": "viewer"}"#)
            #expect(taken.status == 409)
            let century = try await fx.call(.POST, "/api/v1/tokens", token: admin, body: #"{"name": "old", "role": "viewer", "expires": "36501d"}"#)
            #expect(century.status == 422)
            #expect(century.errorField == "expires")
            let itself = try await fx.call(.POST, "/api/v1/tokens/root/revoke", token: admin)
            #expect(itself.status == 409, "\(itself.body)")
            #expect((try await fx.call(.GET, "/api/v1/whoami", token: admin)).status == 200, "still works")
            let revoked = try await fx.call(.POST, "/api/v1/tokens/ci/revoke", token: admin)
            #expect(revoked.object["status"] as? String == "revoked", "\(revoked.body)")
            #expect((try await fx.call(.GET, "/api/v1/whoami", token: secret)).status == 401)
        }
    }

    @Test("kaji serve drains and exits 0 on SIGTERM", .needsDatabase)
    func sigterm() async throws {
        try await TestDatabase.with { db in
            let server = try await KajiServe.start(on: db)
            #expect(server.baseURL.hasPrefix("http://127.0.0.1:"))
            let result = try await server.stop()
            #expect(result.status == 0, "stderr: \(result.stderr.suffix(1000))")
        }
    }
}

@Suite("The OpenAPI document")
struct OpenAPIContractTests {
    @Test("every operation of openapi.yaml is routed, and every route is in openapi.yaml")
    func routesMatchDocument() throws {
        let documented = try OpenAPIDocument.operations()
        let routed = Set(OpenAPIDocument.routes().map(\.operation))
        #expect(documented.subtracting(routed).isEmpty, "documented, not routed: \(documented.subtracting(routed).sorted())")
        #expect(routed.subtracting(documented).isEmpty, "routed, not documented: \(routed.subtracting(documented).sorted())")
    }

    @Test("each operation's x-kaji-role is the role the route checks")
    func rolesMatchDocument() throws {
        let json = try OpenAPIDocument.json()
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        for (operation, role) in OpenAPIDocument.routes() {
            let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
            let entry = paths[parts[1]]?[parts[0].lowercased()] as? [String: Any]
            #expect(entry?["x-kaji-role"] as? String == (role ?? "none"), "\(operation)")
        }
    }

    @Test("the documented enums are exactly the engine's: audit event types, run and step states")
    func enumsMatchEngine() throws {
        let json = try OpenAPIDocument.json()
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let engine: [(String, [String])] = [
            ("AuditEventType", AuditEventType.allCases.map(\.rawValue)),
            ("RunState", RunState.allCases.map(\.rawValue)),
            ("StepState", StepState.allCases.map(\.rawValue)),
        ]
        for (schema, values) in engine {
            let documented = try #require((schemas[schema] as? [String: Any])?["enum"] as? [String], "\(schema)")
            #expect(Set(documented) == Set(values),
                    "\(schema): only documented \(Set(documented).subtracting(values).sorted()); only in the engine \(Set(values).subtracting(documented).sorted())")
        }
    }
}
