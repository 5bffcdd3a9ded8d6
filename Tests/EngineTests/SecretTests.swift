import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

@Suite("Secrets", .timeLimit(.minutes(4)))
struct SecretTests {
    @Test("a Secret encodes, prints and mirrors as its reference only")
    func referenceOnly() throws {
        let secret = Secret(id: UUID())
        let json = try KajiJSON.string(secret)
        #expect(json == #"{"$secret":"\#(secret.id.uuidString.lowercased())"}"#)
        #expect(try KajiJSON.decode(Secret.self, from: json) == secret)
        #expect("\(secret)" == secret.reference)
        #expect(String(reflecting: secret) == "Secret(\(secret.reference))")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(dumped.contains(secret.reference))
        #expect(try Secret(reference: secret.reference) == secret)
        #expect(try Secret(reference: secret.id.uuidString) == secret)
        #expect(try Secret(reference: json) == secret)
        #expect(throws: KajiError.self) { try Secret(reference: "not-a-ref") }
    }

    @Test("key errors say what is wrong and never repeat the key")
    func keyErrors() throws {
        let notBase64 = "this-is-my-very-secret-key!!"
        do {
            _ = try SecretKey.fromEnvironment(["KAJI_SECRET_KEY": notBase64])
            Issue.record("accepted a non-base64 key")
        } catch let error as KajiError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("KAJI_SECRET_KEY"))
            #expect(!error.message.contains(notBase64))
        }
        let short = Data(repeating: 7, count: 16).base64EncodedString()
        do {
            _ = try SecretKey.fromEnvironment(["KAJI_SECRET_KEY": short])
            Issue.record("accepted a 16-byte key")
        } catch let error as KajiError {
            #expect(error.message.contains("32 bytes"))
            #expect(!error.message.contains(short))
        }
        #expect(throws: KajiError.self) { try SecretKey.fromEnvironment([:]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let key = SecretKey.generate()
        try Data((key.base64 + "\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(try SecretKey.fromEnvironment(["KAJI_SECRET_KEY_FILE": file]).id == key.id)
        #expect(!"\(key)".contains(key.base64))
    }

    @Test("store and reveal round trip; a wrong key or a moved ciphertext is refused", .needsDatabase)
    func roundTrip() async throws {
        try await TestDatabase.with { db in
            let key = SecretKey.generate()
            let a = try await db.store.storeSecret("correct horse battery staple", name: "a", key: key, actor: "test")
            let b = try await db.store.storeSecret("another value entirely", name: "b", key: key, actor: "test")
            #expect(try await db.store.revealSecret(a, key: key, actor: "test") == "correct horse battery staple")
            await #expect(throws: KajiError.self) { try await db.store.revealSecret(a, key: SecretKey.generate(), actor: "test") }
            // Swap b's ciphertext into a: the id is bound as associated data, so it does not decrypt.
            try await db.store.client.query("UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE id = \(b.id)) WHERE id = \(a.id)", logger: db.logger)
            do {
                _ = try await db.store.revealSecret(a, key: key, actor: "test")
                Issue.record("a moved ciphertext decrypted")
            } catch let error as KajiError {
                #expect(error.message.contains("altered or moved"))
                #expect(!error.message.contains("another value"))
            }
        }
    }
}
