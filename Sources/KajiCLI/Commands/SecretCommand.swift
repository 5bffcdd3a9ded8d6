import ArgumentParser
import Engine
import Foundation

struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Encrypted secrets: store, reveal (audited), list, make a key.",
        discussion: """
            Values are encrypted with AES-256-GCM under KAJI_SECRET_KEY (base64 of 32 bytes) or the file named \
            by KAJI_SECRET_KEY_FILE. Everywhere else (step results, errors, logs, audit) a secret appears only as \
            its reference, secret:<uuid> or {"$secret": "<uuid>"}.
              kaji secret keygen > /etc/kaji/secret.key
              printf %s "$PASSWORD" | kaji secret put argocd-admin
              kaji secret reveal secret:2f1c…
            Rotating the key: KAJI_SECRET_KEY=NEW KAJI_SECRET_PREVIOUS_KEYS=OLD kaji secret rekey, then drop OLD.
            """,
        subcommands: [SecretReveal.self, SecretPut.self, SecretList.self, SecretKeygen.self, SecretRekey.self]
    )
}

struct SecretReveal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reveal",
        abstract: "Print a secret's value (for an admin). Audited as secret.revealed with your actor, never the value.",
        discussion: "On the database this needs KAJI_SECRET_KEY here; through kaji serve (--server), the server's key is used and the token must be an admin's."
    )

    @Argument(help: "The reference: secret:<uuid>, <uuid> or {\"$secret\": \"<uuid>\"}.")
    var reference: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let secret = try KajiClient.secret(reference: reference)
        // On the database the key must be here; through a server, the server's is used.
        if case .database = try global.target() { _ = try SecretKeyring.fromEnvironment() }
        let revealed = try await global.withBackend { backend in
            try await backend.revealSecret(secret)
        }
        if global.json {
            try Output.json(revealed)
        } else {
            print(revealed.value)
        }
    }
}

struct SecretPut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a value read from standard input (one trailing newline is dropped); prints its reference."
    )

    @Argument(help: "A name for the secret (1-200 characters; names need not be unique).")
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        if case .database = try global.target() { _ = try SecretKey.fromEnvironment() }
        var value = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
        guard !value.isEmpty else {
            throw KajiError(.invalidArgument, "no value on standard input: pipe the secret in, e.g. printf %s \"$VALUE\" | kaji secret put \(name)")
        }
        let name = self.name
        let stored = value
        let secret = try await global.withBackend { backend in
            try await backend.storeSecret(stored, name: name)
        }
        if global.json {
            try Output.json(secret)
        } else {
            print(secret.reference)
        }
    }
}

struct SecretList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List stored secrets (never their values), newest first.")

    @Option(name: .long, help: "Only secrets with this name.")
    var name: String?

    @Option(name: .long, help: "At most this many (default 100, at most 10000).")
    var limit: Int = 100

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        guard (1...10_000).contains(limit) else { throw KajiError(.invalidArgument, "--limit \(limit) is out of range (1...10000)") }
        let name = self.name, limit = self.limit
        let secrets = try await global.withBackend { backend in try await backend.secrets(name: name, limit: limit) }
        if global.json {
            try Output.json(secrets)
            return
        }
        if secrets.isEmpty {
            print("no secrets")
            return
        }
        Output.table(["REFERENCE", "NAME", "KEY", "CREATED", "BY", "RUN"], secrets.map { s in
            [s.secret.reference, s.name, s.keyId, Output.time(s.createdAt), s.createdBy, s.runId?.uuidString ?? "-"]
        })
    }
}

struct SecretKeygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Print a new random key (base64 of 32 bytes) for KAJI_SECRET_KEY or KAJI_SECRET_KEY_FILE."
    )

    func run() throws {
        print(SecretKey.generate().base64)
    }
}

struct SecretRekey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Re-encrypt every secret under KAJI_SECRET_KEY, decrypting with KAJI_SECRET_PREVIOUS_KEYS (comma-separated base64).",
        discussion: "Audited as secrets.rekeyed. Afterwards the previous keys are no longer needed."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .warning)
        let keys = try SecretKeyring.fromEnvironment()
        let config = try global.databaseConfig()
        let actor = KajiClient.cliActor()
        let count = try await config.withClient { client in
            try await client.rekeySecrets(keys: keys, actor: actor)
        }
        if global.json {
            try Output.json(["rekeyed": count])
        } else {
            print("re-encrypted \(count) secrets under key \(keys.current.id)")
        }
    }
}
