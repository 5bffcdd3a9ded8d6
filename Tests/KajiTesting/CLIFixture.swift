import Engine
import Foundation
import Testing

/// How a `kaji` command reaches Kaji in a test: on the database (`--database-url`, `--schema`), or through
/// a `kaji serve` child process on the same schema with a token (`KAJI_SERVER`, `KAJI_TOKEN`, and a
/// `DATABASE_URL` nobody answers, so that a command that went to the database would fail).
package enum CLIMode: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case database
    case server

    package var testDescription: String { self == .database ? "on the database" : "through kaji serve" }
}

/// A fresh schema, and in `.server` mode a `kaji serve` on it with a token: runs `kaji` commands the
/// mode's way, so that one test proves the same behaviour on both paths.
package struct CLIFixture: Sendable {
    package let mode: CLIMode
    package let db: TestDatabase
    /// The server (`.server` mode only).
    package let server: KajiServe?
    /// The token the commands use (`.server` mode only), named `tokenName`.
    package let token: String?
    package let tokenName: String
    /// Extra environment of every command (`.database` mode: e.g. the secret key the server has otherwise).
    package let commandEnvironment: [String: String]

    /// A URL where no PostgreSQL listens: what `DATABASE_URL` is for commands through the server.
    package static let nowhere = "postgres://nobody@127.0.0.1:1/nowhere"

    /// Runs `body` with a fresh schema (and in `.server` mode a `kaji serve` and a token of `role` named
    /// `cli-test`).
    /// - Parameter databaseEnvironment: environment for whichever process works on the database: the
    ///   server in `.server` mode, each command in `.database` mode (e.g. `KAJI_SECRET_KEY`).
    package static func with<T: Sendable>(_ mode: CLIMode, role: APIRole = .admin, databaseEnvironment: [String: String] = [:],
                                          _ body: @Sendable (CLIFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { db in
            switch mode {
            case .database:
                return try await body(CLIFixture(mode: mode, db: db, server: nil, token: nil, tokenName: "", commandEnvironment: databaseEnvironment))
            case .server:
                let name = "cli-test"
                let token = try await KajiClient(store: db.store, catalog: .diagnostics).createToken(name: name, role: role, actor: "test").token
                let server = try await KajiServe.start(on: db, environment: databaseEnvironment)
                let result: Result<T, any Error>
                do {
                    result = .success(try await body(CLIFixture(mode: mode, db: db, server: server, token: token, tokenName: name, commandEnvironment: [:])))
                } catch {
                    result = .failure(error)
                }
                let stopped = try? await server.stop()
                if let stopped {
                    // The token is never logged.
                    #expect(!stopped.stdout.contains(token) && !stopped.stderr.contains(token), "kaji serve's output holds the token")
                }
                return try result.get()
            }
        }
    }

    /// What the commands' own actions are recorded as: `cli:USER@HOST` on the database, `token:NAME`
    /// through the server.
    package var actorPrefix: String { mode == .database ? "cli:" : "token:\(tokenName)" }

    /// The command's arguments in this mode.
    package func arguments(_ arguments: [String]) -> [String] {
        mode == .database ? arguments + db.cliArguments : arguments
    }

    /// The command's environment in this mode (and `extra`).
    package func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = commandEnvironment
        switch mode {
        case .database:
            env["KAJI_SERVER"] = ""
            env["KAJI_TOKEN"] = ""
        case .server:
            env["KAJI_SERVER"] = server?.baseURL ?? ""
            env["KAJI_TOKEN"] = token ?? ""
            env["DATABASE_URL"] = Self.nowhere
            env["KAJI_SCHEMA"] = ""
        }
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Runs `kaji ARGUMENTS` to its end, this mode's way. In `.server` mode the output must not hold the token.
    package func run(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil,
                     timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let result = try await KajiProcess.run(self.arguments(arguments), environment: environment(extra), stdin: stdin, timeout: timeout)
        if let token {
            #expect(!result.stdout.contains(token) && !result.stderr.contains(token), "kaji \(arguments.joined(separator: " ")) printed the token")
        }
        return result
    }

    /// Starts `kaji ARGUMENTS`, this mode's way.
    package func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> KajiProcess {
        try KajiProcess(self.arguments(arguments), environment: environment(extra))
    }

    /// A client on the schema that knows `registry`'s workflows.
    package func client(_ registry: WorkflowRegistry) -> KajiClient { db.client(registry) }
}
