import Engine
import Foundation
import KajiTesting
import NIOHTTP1
import Testing

@Suite("kaji token: create, list, revoke", .needsDatabase, .timeLimit(.minutes(3)))
struct TokenCLITests {
    /// Runs `kaji ARGS --database-url … --schema …` to completion.
    func kaji(_ fx: ServeFixture, _ arguments: [String]) async throws -> CommandResult {
        try await KajiProcess.run(arguments + fx.db.cliArguments)
    }

    @Test("a token is printed once, works against kaji serve as token:NAME, is listed without its secret, and stops working when revoked")
    func lifecycle() async throws {
        try await ServeFixture.with { fx in
            let created = try await kaji(fx, ["token", "create", "ci-bot", "--role", "operator", "--expires", "90d", "--json"])
            #expect(created.status == 0, "\(created.stderr)")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
            let token = try #require(doc["token"] as? String)
            #expect(token.hasPrefix("kaji_"))
            #expect(doc["role"] as? String == "operator")
            #expect(doc["actor"] as? String == "token:ci-bot")
            #expect(doc["expiresAt"] as? String != nil)

            let whoami = try await fx.call(.GET, "/api/v1/whoami", token: token)
            #expect(whoami.object["actor"] as? String == "token:ci-bot")
            #expect(whoami.object["role"] as? String == "operator")

            let list = try await kaji(fx, ["token", "list", "--json"])
            #expect(list.status == 0)
            #expect(!list.stdout.contains(token), "list never shows a token")
            let tokens = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            #expect(tokens.first?["status"] as? String == "active")

            let again = try await kaji(fx, ["token", "create", "ci-bot", "--role", "viewer"])
            #expect(again.status == 1, "a name is taken")
            let badRole = try await kaji(fx, ["token", "create", "x", "--role", "root"])
            #expect(badRole.status == 2)
            #expect(badRole.stderr.contains("viewer, operator, approver, admin"))
            let badExpiry = try await kaji(fx, ["token", "create", "x", "--role", "viewer", "--expires", "soon"])
            #expect(badExpiry.status == 2)

            let revoked = try await kaji(fx, ["token", "revoke", "ci-bot"])
            #expect(revoked.status == 0)
            let after = try await fx.call(.GET, "/api/v1/whoami", token: token)
            #expect(after.status == 401)
            let unknown = try await kaji(fx, ["token", "revoke", "nobody"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no token named 'nobody'"))
            // Only the SHA-256 is stored.
            #expect(!(try await kaji(fx, ["token", "list", "--json"])).stdout.contains(token))
        }
    }
}
