import Engine
import Foundation
import NIOHTTP1
import Server
import Testing

/// The API goes through the server generated from openapi.yaml (swift-openapi-generator); these pin what
/// its gate and error mapping keep as the hand-written routes had it.
@Suite("kaji serve: the generated server keeps the API's rules", .needsDatabase, .timeLimit(.minutes(3)))
struct GeneratedServerTests {
    @Test("query parameters of the wrong type are a 422 naming the parameter; NUL in a path name is refused")
    func queryParameters() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("viewer", .viewer)
            let op = try await fx.token("op", .operator)
            let cases: [(String, String)] = [
                ("/api/v1/runs?limit=many", "limit"),
                ("/api/v1/runs?state=sleeping", "state"),
                ("/api/v1/audit?since=yesterday", "since"),
                ("/api/v1/audit?type=no.such", "type"),
                ("/api/v1/audit?run=abc", "run"),
                ("/api/v1/audit?actor=a%00b", "actor"),
            ]
            for (path, field) in cases {
                let reply = try await fx.call(.GET, path, token: viewer)
                #expect(reply.status == 422, "\(path): \(reply.status) \(reply.body)")
                #expect(reply.errorCode == "invalid_argument", "\(path): \(reply.body)")
                #expect(reply.errorField == field, "\(path): \(reply.body)")
            }
            let dryRun = try await fx.call(.POST, "/api/v1/manifests/apply?dryRun=perhaps", token: op, body: "name: x", contentType: "application/yaml")
            #expect(dryRun.status == 422, "\(dryRun.body)")
            #expect(dryRun.errorField == "dryRun")
            let nulName = try await fx.call(.GET, "/api/v1/clusters/a%00b", token: viewer)
            #expect(nulName.status == 422, "\(nulName.body)")
            #expect(nulName.errorField == "name")
            let page = try await fx.call(.GET, "/api/v1/runs?limit=5&state=pending", token: viewer)
            #expect(page.status == 200, "\(page.body)")
            // Every audit type the engine writes is one the document (and so the generated enum) lists.
            let tokens = try await fx.call(.GET, "/api/v1/audit?type=token.created", token: viewer)
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(((tokens.object["items"] as? [[String: Any]]) ?? []).count >= 2, "\(tokens.body)")
        }
    }

    @Test("generated request bodies: unknown fields and wrong types name the field, an empty body reads as {}, whatever its type")
    func bodies() async throws {
        try await ServeFixture.with { fx in
            let admin = try await fx.token("root", .admin)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let path = "/api/v1/runs/\(run.id.uuidString.lowercased())"
            let extra = try await fx.call(.POST, path + "/reject", token: admin, body: #"{"reason": "no", "colour": "red"}"#)
            #expect(extra.status == 422, "\(extra.body)")
            #expect(extra.errorField == "colour")
            #expect(extra.body.contains("colour is not a field of this request (fields: reason)"), "\(extra.body)")
            let enqueueExtra = try await fx.call(.POST, "/api/v1/runs", token: admin, body: #"{"kind": "diag.steps", "colour": "red"}"#)
            #expect(enqueueExtra.body.contains("(fields: concurrencyKey, idempotencyKey, input, kind, priority, queue, runAt)"), "\(enqueueExtra.body)")
            let retryExtra = try await fx.call(.POST, path + "/retry", token: admin, body: #"{"now": true}"#)
            #expect(retryExtra.status == 422, "\(retryExtra.body)")
            #expect(retryExtra.errorField == "now")
            let wrongType = try await fx.call(.POST, "/api/v1/prune", token: admin, body: #"{"olderThan": 30}"#)
            #expect(wrongType.status == 422, "\(wrongType.body)")
            #expect(wrongType.errorField == "olderThan")
            let missing = try await fx.call(.POST, "/api/v1/tokens", token: admin, body: #"{"name": "x"}"#)
            #expect(missing.status == 422, "\(missing.body)")
            #expect(missing.errorField == "role")
            let badRole = try await fx.call(.POST, "/api/v1/tokens", token: admin, body: #"{"name": "x", "role": "king"}"#)
            #expect(badRole.status == 422, "\(badRole.body)")
            #expect(badRole.errorField == "role")
            let notJSON = try await fx.call(.POST, path + "/cancel", token: admin, body: "reason=x", contentType: "text/plain")
            #expect(notJSON.status == 415, "\(notJSON.body)")
            #expect(notJSON.errorCode == "unsupported_media_type")
            // An empty body, even one labelled text/plain, is `{}` (the CLI's bodiless POSTs).
            let empty = try await fx.call(.POST, path + "/cancel", token: admin, body: "", contentType: "text/plain")
            #expect(empty.status == 200, "\(empty.body)")
            #expect(empty.object["outcome"] as? String == "cancelled")
            #expect(empty.contentType == "application/json; charset=utf-8")
        }
    }

    @Test("answers keep the CLI's JSON: explicit nulls, dates with milliseconds, compact sorted keys, whatever Accept says")
    func answers() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("viewer", .viewer)
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let page = try await fx.call(.GET, "/api/v1/runs", token: viewer, headers: [("Accept", "text/html")])
            #expect(page.status == 200, "\(page.body)")
            #expect(page.body.hasPrefix(#"{"items":[{"#), "compact, sorted keys: \(page.body.prefix(80))")
            #expect(page.body.hasSuffix(#""nextCursor":null}"#), "an explicit null: \(page.body.suffix(80))")
            let expected = try KajiJSON.string(try await fx.client.runPage(RunQuery(limit: 50)))
            #expect(page.body == expected, "the body is the engine's document, byte for byte")
            let show = try await fx.call(.GET, "/api/v1/runs/\(run.id.uuidString.lowercased())", token: viewer)
            let createdAt = try #require(show.object["createdAt"] as? String)
            #expect(createdAt.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(createdAt)")
            let openapi = try await fx.call(.GET, "/api/v1/openapi.json")
            #expect(openapi.status == 200)
            #expect((openapi.object["paths"] as? [String: Any])?["/api/v1/runs"] != nil, "\(openapi.body.prefix(200))")
        }
    }

    @Test("manifests: YAML under each of its names or JSON, read as text with the problems' lines")
    func manifests() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("viewer", .viewer)
            let yaml = "apiVersion: kaji/v1\nkind: Cluster\nname: Bad_Name\n"
            for type in ["application/yaml", "application/x-yaml", "text/yaml", "application/json", nil] {
                let body = type == "application/json" ? #"{"apiVersion": "kaji/v1", "kind": "Cluster", "name": "Bad_Name"}"# : yaml
                let reply = try await fx.call(.POST, "/api/v1/manifests/validate", token: viewer, body: body, contentType: type)
                #expect(reply.status == 200, "\(type ?? "none"): \(reply.status) \(reply.body)")
                #expect(reply.object["valid"] as? Bool == false, "\(type ?? "none"): \(reply.body)")
                let problems = (reply.object["problems"] as? [[String: Any]]) ?? []
                #expect(problems.contains { $0["field"] as? String == "name" }, "\(type ?? "none"): \(reply.body)")
            }
            let form = try await fx.call(.POST, "/api/v1/manifests/validate", token: viewer, body: yaml, contentType: "text/plain")
            #expect(form.status == 415, "\(form.body)")
            let empty = try await fx.call(.POST, "/api/v1/manifests/validate", token: viewer, body: "", contentType: "application/yaml")
            #expect(empty.status == 400, "\(empty.body)")
            #expect(empty.errorCode == "malformed_body")
        }
    }
}
