import ArgumentParser
import Engine
import Foundation
import Server

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage the API tokens of kaji serve (on the database, or through a server with an admin token).",
        discussion: """
            Roles, each including the ones before it: viewer reads; operator enqueues, applies, cancels, retries, \
            signals; approver approves and rejects; admin manages schedules and secrets. What a token does is \
            recorded as token:NAME.
            """,
        subcommands: [TokenCreateCommand.self, TokenListCommand.self, TokenRevokeCommand.self]
    )
}

struct TokenCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a token and print it once (only its SHA-256 is stored).",
        discussion: "Example: kaji token create ci-bot --role operator --expires 90d"
    )

    @Argument(help: "Token name (1-63 of a-z 0-9 . _ -); the audit trail shows token:NAME.")
    var name: String

    @Option(name: .long, help: "viewer, operator, approver or admin.")
    var role: String

    @Option(name: .long, help: "Lifetime, e.g. 90d, 12h, 1d12h (default: no expiry).")
    var expires: String?

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let role = try APIRole.parse(self.role)
        if let expires { _ = try AgeLimits.lifetime(expires) }
        let name = self.name, expires = self.expires
        let created = try await global.withBackend { backend in
            try await backend.createToken(name: name, role: role, expires: expires)
        }
        if global.json {
            try Output.json(created)
            return
        }
        print(created.token)
        Output.info("token \(created.name) (\(created.role.rawValue)\(created.expiresAt.map { ", expires \(KajiJSON.format($0))" } ?? "")): shown once, keep it now")
    }
}

struct TokenListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens (never the tokens themselves).")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let tokens = try await global.withBackend { backend in try await backend.tokens() }
        if global.json {
            try Output.json(tokens)
            return
        }
        if tokens.isEmpty {
            print("no tokens")
            return
        }
        Output.table(["NAME", "ROLE", "STATUS", "CREATED", "EXPIRES", "CREATED BY"],
                     tokens.map { [$0.name, $0.role.rawValue, $0.status, Output.time($0.createdAt), Output.time($0.expiresAt), $0.createdBy] })
    }
}

struct TokenRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token at once (its name stays taken).")

    @Argument(help: "Token name.")
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let name = self.name
        let token = try await global.withBackend { backend in try await backend.revokeToken(name: name) }
        if global.json {
            try Output.json(token)
        } else {
            print("revoked \(token.name)")
        }
    }
}
