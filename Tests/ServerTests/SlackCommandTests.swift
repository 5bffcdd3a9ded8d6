import Engine
import Foundation
import NIOHTTP1
import Server
import Testing

@Suite("kaji serve: Slack slash commands over HTTP", .timeLimit(.minutes(3)))
struct SlackCommandTests {
    static let secret = "test-signing-secret-0123456789"

    func form(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }.joined(separator: "&")
    }

    func slack(_ fx: ServeFixture, _ path: String, body: String, timestamp: Date = Date(), secret: String = Self.secret,
               signature: String? = nil) async throws -> HTTPReply {
        let ts = String(Int(timestamp.timeIntervalSince1970))
        let sig = signature ?? SlackSignature.sign(secret: secret, timestamp: ts, body: Data(body.utf8))
        return try await fx.call(.POST, path, body: body, contentType: "application/x-www-form-urlencoded",
                                 headers: [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", sig)])
    }

    @Test("signed commands answer; a wrong secret, an altered body, an old timestamp or no headers get 401 and change nothing")
    func commands() async throws {
        let env = ["KAJI_SLACK_SIGNING_SECRET": Self.secret, "KAJI_SLACK_USERS": "T1/UOPS=operator"]
        try await ServeFixture.with(environment: env) { fx in
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "token:someone"))
            let help = try await slack(fx, "/slack/commands", body: form([("team_id", "T1"), ("user_id", "UOPS"), ("command", "/kaji"), ("text", "help")]))
            #expect(help.status == 200, "\(help.body)")
            #expect(help.object["response_type"] as? String == "ephemeral")
            #expect((help.object["text"] as? String)?.contains("/kaji") == true)

            let status = try await slack(fx, "/slack/commands", body: form([("team_id", "T1"), ("user_id", "UX"), ("text", "status \(run.id)")]))
            #expect((status.object["text"] as? String)?.contains("pending") == true, "\(status.body)")

            // An unknown user may only read.
            let readerCancel = try await slack(fx, "/slack/commands", body: form([("team_id", "T1"), ("user_id", "UX"), ("text", "cancel \(run.id)")]))
            #expect((readerCancel.object["text"] as? String)?.contains("needs operator") == true, "\(readerCancel.body)")
            #expect(try await fx.client.runSummary(id: run.id).state == .pending)

            let body = form([("team_id", "T1"), ("user_id", "UOPS"), ("text", "cancel \(run.id)")])
            let refused: [(String, HTTPReply)] = [
                ("wrong secret", try await slack(fx, "/slack/commands", body: body, secret: "another-secret")),
                ("altered body", try await slack(fx, "/slack/commands", body: body, signature: SlackSignature.sign(secret: Self.secret, timestamp: String(Int(Date().timeIntervalSince1970)), body: Data((body + "x").utf8)))),
                ("old timestamp", try await slack(fx, "/slack/commands", body: body, timestamp: Date().addingTimeInterval(-600))),
                ("no headers", try await fx.call(.POST, "/slack/commands", body: body, contentType: "application/x-www-form-urlencoded")),
            ]
            for (what, reply) in refused {
                #expect(reply.status == 401, "\(what): \(reply.status) \(reply.body)")
                #expect(!reply.body.contains("UOPS"), "\(what): nothing of the body is echoed")
            }
            #expect(try await fx.client.runSummary(id: run.id).state == .pending, "refused requests changed nothing")

            let cancel = try await slack(fx, "/slack/commands", body: body)
            #expect((cancel.object["text"] as? String)?.contains("cancelled run") == true, "\(cancel.body)")
            let detail = try await fx.client.run(id: run.id)
            #expect(detail.run.state == .cancelled)
            #expect(detail.run.cancelRequestedBy == "slack:T1/UOPS")
        }
    }
}
