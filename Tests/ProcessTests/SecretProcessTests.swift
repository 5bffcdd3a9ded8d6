import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// Secrets through `kaji secret`, `kaji show`, `kaji audit` and `kaji worker` processes (moved from EngineTests' SecretTests).
@Suite("Secrets through the CLI and worker processes", .timeLimit(.minutes(4)), .needsDatabase)
struct SecretProcessTests {
    @Test("key rotation: the old key as a previous key still decrypts; kaji secret rekey moves everything to the new key")
    func rotation() async throws {
        try await TestDatabase.with { db in
            let old = SecretKey.generate(), new = SecretKey.generate()
            let a = try await db.store.storeSecret("value-a", name: "a", key: old, actor: "test")
            let b = try await db.store.storeSecret("value-b", name: "b", key: old, actor: "test")
            do {
                _ = try await db.store.revealSecret(a, key: new, actor: "test")
                Issue.record("decrypted under the wrong key")
            } catch let error as KajiError {
                #expect(error.message.contains("KAJI_SECRET_PREVIOUS_KEYS"))
            }
            #expect(try await db.store.revealSecret(a, keys: SecretKeyring(current: new, previous: [old]), actor: "test") == "value-a")

            let env = ["KAJI_SECRET_KEY": new.base64, "KAJI_SECRET_PREVIOUS_KEYS": "  \(old.base64) "]
            let rekey = try await KajiProcess.run(["secret", "rekey", "--json"] + db.cliArguments, environment: env)
            #expect(rekey.status == 0, "stderr: \(rekey.stderr)")
            #expect(rekey.stdout.contains("\"rekeyed\" : 2"))
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM secrets WHERE key_id = \(new.id)") == 2)
            #expect(try await db.store.revealSecret(b, key: new, actor: "test") == "value-b", "the new key alone is enough now")
            let again = try await KajiProcess.run(["secret", "rekey", "--json"] + db.cliArguments, environment: env)
            #expect(again.stdout.contains("\"rekeyed\" : 0"))
            #expect(try await db.store.auditEvents(AuditFilter(type: "secrets.rekeyed")).count == 1)
            let badPrevious = try await KajiProcess.run(["secret", "rekey"] + db.cliArguments, environment: ["KAJI_SECRET_KEY": new.base64, "KAJI_SECRET_PREVIOUS_KEYS": "nope"])
            #expect(badPrevious.status == 2)
            #expect(badPrevious.stderr.contains("KAJI_SECRET_PREVIOUS_KEYS (key #1)"))
            try await Self.expectAbsent(["value-a", "value-b"], in: db)
        }
    }

    @Test("a secret handled by a workflow appears nowhere in plaintext: show --json, audit --json, errors, worker logs, any table")
    func nowhereInPlaintext() async throws {
        try await TestDatabase.with { db in
            let key = SecretKey.generate().base64
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-secret-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: out) }

            func enqueue(_ input: String) async throws -> UUID {
                let r = try await KajiProcess.run(["enqueue", "diag.secret", "--input", input, "--json"] + db.cliArguments)
                #expect(r.status == 0, "stderr: \(r.stderr)")
                let result = try KajiJSON.decode(EnqueueResult.self, from: r.stdout)
                return result.id
            }
            let good = try await enqueue(#"{"name": "argocd-admin", "length": 32}"#)
            let worker = try db.spawnWorker(concurrency: 1, environment: ["KAJI_SECRET_KEY": key, "KAJI_DIAG_SECRET_OUT": out, "KAJI_LOG_LEVEL": "trace"])
            let run = try await db.waitForFinish(good)
            #expect(run.state == .succeeded)
            let value = try String(contentsOfFile: out, encoding: .utf8)
            #expect(value.count == 32)
            // A second run whose step fails with an error that mentions the secret.
            let failing = try await enqueue(#"{"name": "doomed", "failUse": true}"#)
            _ = try await db.waitForFinish(failing)
            worker.signal(SIGTERM)
            let logs = try await worker.wait(timeout: .seconds(30))
            let failedValue = try String(contentsOfFile: out, encoding: .utf8)   // overwritten by the failing run
            #expect(failedValue != value)

            let show = try await KajiProcess.run(["show", good.uuidString, "--json"] + db.cliArguments)
            #expect(show.status == 0)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            let ref = try #require(((doc["output"] as? [String: Any])?["secret"] as? [String: Any])?["$secret"] as? String)
            let secret = try Secret(reference: ref)
            #expect(show.stdout.contains(ref), "the step result holds the reference")
            #expect(!show.stdout.contains(value))
            let failedShow = try await KajiProcess.run(["show", failing.uuidString, "--json"] + db.cliArguments)
            #expect(failedShow.stdout.contains("the target refused secret:"), "the error names the secret by reference")
            #expect(!failedShow.stdout.contains(failedValue))

            let audit = try await KajiProcess.run(["audit", "--json", "--limit", "1000"] + db.cliArguments)
            #expect(audit.status == 0)
            #expect(audit.stdout.contains("secret.stored"))
            #expect(audit.stdout.contains("secret.revealed"))
            for v in [value, failedValue] {
                #expect(!audit.stdout.contains(v))
                #expect(!logs.stdout.contains(v) && !logs.stderr.contains(v), "worker logs must not hold the value")
            }
            #expect(logs.stderr.contains("secret:"), "the logs name secrets by reference")

            // Every row of every table, as text (bytea as hex), holds neither the value nor its hex.
            try await Self.expectAbsent([value, failedValue], in: db)

            // kaji secret reveal prints it for an admin and audits that it did, without the value.
            let reveal = try await KajiProcess.run(["secret", "reveal", secret.reference] + db.cliArguments, environment: ["KAJI_SECRET_KEY": key, "KAJI_ACTOR_USER": "alice"])
            #expect(reveal.status == 0, "stderr: \(reveal.stderr)")
            #expect(reveal.stdout == value + "\n")
            let revealed = try await db.store.auditEvents(AuditFilter(type: "secret.revealed"))
            let byAlice = revealed.filter { $0.actor.hasPrefix("cli:alice@") }
            #expect(byAlice.count == 1)
            #expect(byAlice.first?.detail?.contains(secret.id.uuidString.lowercased()) == true)
            try await Self.expectAbsent([value], in: db)

            let noKey = try await KajiProcess.run(["secret", "reveal", secret.reference] + db.cliArguments, environment: ["KAJI_SECRET_KEY": ""])
            #expect(noKey.status == 2)
            #expect(noKey.stderr.contains("KAJI_SECRET_KEY"))
            let wrongKey = try await KajiProcess.run(["secret", "reveal", secret.reference] + db.cliArguments, environment: ["KAJI_SECRET_KEY": SecretKey.generate().base64])
            #expect(wrongKey.status == 1)
            #expect(!wrongKey.stdout.contains(value) && !wrongKey.stderr.contains(value))
        }
    }

    @Test("kaji secret put reads stdin and prints a reference; list shows no values")
    func putAndList() async throws {
        try await TestDatabase.with { db in
            let key = SecretKey.generate().base64
            let value = "put-\(UUID().uuidString)"
            let input = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-put-\(UUID().uuidString)")
            try Data((value + "\n").utf8).write(to: input)
            defer { try? FileManager.default.removeItem(at: input) }
            let put = try await Self.runWithStdin(["secret", "put", "ci-token"] + db.cliArguments, stdin: input, environment: ["KAJI_SECRET_KEY": key])
            #expect(put.status == 0, "stderr: \(put.stderr)")
            let secret = try Secret(reference: put.stdout)
            let list = try await KajiProcess.run(["secret", "list", "--json"] + db.cliArguments)
            #expect(list.stdout.contains(secret.id.uuidString.lowercased()))
            #expect(!list.stdout.contains(value))
            let key2 = try SecretKey(base64: key, source: "test")
            #expect(try await db.store.revealSecret(secret, key: key2, actor: "test") == value, "the trailing newline is dropped")
            let unknown = try await KajiProcess.run(["secret", "reveal", Secret(id: UUID()).reference] + db.cliArguments, environment: ["KAJI_SECRET_KEY": key])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no secret secret:"))
            let badRef = try await KajiProcess.run(["secret", "reveal", "hunter2"] + db.cliArguments, environment: ["KAJI_SECRET_KEY": key])
            #expect(badRef.status == 2)
            #expect(!badRef.stderr.contains("hunter2"), "a value pasted as a reference is not echoed")
            try await Self.expectAbsent([value], in: db)
        }
    }

    static func runWithStdin(_ arguments: [String], stdin: URL, environment: [String: String]) async throws -> CommandResult {
        try await KajiProcess.run(arguments, environment: environment, stdin: stdin.path)
    }

    /// Casts every row of every table of the test's schema to text and checks that no value (nor its hex
    /// form, as bytea prints) occurs in it.
    static func expectAbsent(_ values: [String], in db: TestDatabase) async throws {
        var tables: [String] = []
        for try await name in try await db.store.client.query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(db.config.schema)", logger: db.logger).decode(String.self) {
            tables.append(name)
        }
        #expect(tables.contains("secrets"))
        #expect(try await db.scalarInt("SELECT count(*)::int8 FROM secrets") >= 1)
        for table in tables {
            #expect(table.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" })
            for value in values {
                let hex = value.utf8.map { String(format: "%02x", $0) }.joined()
                let hits = try await db.scalarInt("SELECT count(*)::int8 FROM \(unescaped: "\"\(table)\"") AS t WHERE strpos(t::text, \(value)) > 0 OR strpos(t::text, \(hex)) > 0")
                #expect(hits == 0, "table \(table) holds the secret in plaintext")
            }
        }
    }
}
