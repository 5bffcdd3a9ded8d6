import Engine
import Foundation
import KajiTesting
import Provisioner
import Synchronization
import Testing
@testable import Workflows

/// `cluster.rotate-password`'s password generator and node session (the end-to-end tests, which run `kaji show`,
/// are ProcessTests' RotatePasswordProcessTests).
@Suite("Rotate-password workflow", .timeLimit(.minutes(3)))
struct RotatePasswordTests {
    typealias F = BackupFixtures

    @Test func generatedPasswordsAreLongAndDistinct() {
        let passwords = (0..<200).map { _ in PasswordGenerator.make() }
        #expect(Set(passwords).count == 200)
        #expect(passwords.allSatisfy { $0.count == 32 && $0.allSatisfy { PasswordGenerator.alphabet.contains($0) } })
        #expect(PasswordGenerator.make(length: 8).count == 24)
    }

    @Test func secretsAreCutOutOfMessagesAndNeverSentAsArguments() async throws {
        let session = NodeSession(
            ssh: F.throwawaySSH(),
            target: ClusterCommandNode(cluster: "c", node: ClusterNode(name: "n", role: .master, serverID: "1", address: "10.0.0.1", sshHost: "127.0.0.1", sshPort: 9, sshUser: "root")),
            deadline: .seconds(1), secrets: ["hunter2hunter2"])
        #expect(session.redact("bad hunter2hunter2!") == "bad [redacted]!")
        await #expect(throws: WorkflowError.self) {
            _ = try await session.run("echo hunter2hunter2", stdin: "", what: "echo")
        }
    }
}
