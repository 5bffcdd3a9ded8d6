import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KajiTesting
import NIOCore
import NIOPosix
import Provisioner
import Testing

@Suite("SSH executor against a real sshd", .timeLimit(.minutes(1)))
struct SSHExecutorTests {
    @Test(.needsSSHD) func exitCodesStdoutAndStderr() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let hello = try await ssh.run("echo hello", on: sshd.endpoint, deadline: .seconds(10))
        #expect(hello == SSHCommandResult(exitStatus: 0, stdout: "hello\n", stderr: ""))
        let failing = try await ssh.run("echo out; echo oops >&2; exit 7", on: sshd.endpoint, deadline: .seconds(10))
        #expect(failing.exitStatus == 7)
        #expect(failing.stdout == "out\n")
        #expect(failing.stderr == "oops\n")
        #expect(!failing.succeeded)
        let status255 = try await ssh.run("exit 255", on: sshd.endpoint, deadline: .seconds(10))
        #expect(status255.exitStatus == 255)
        do {
            _ = try await ssh.runChecked("echo broken >&2; exit 3", on: sshd.endpoint, deadline: .seconds(10))
            Issue.record("expected commandFailed")
        } catch let error as SSHError {
            #expect(error.kind == .commandFailed(exitStatus: 3, stderr: "broken\n"))
            #expect(error.description.contains("exited with status 3: broken"))
        }
    }

    @Test(.needsSSHD) func stdinReachesTheCommandWithoutTheCommandLine() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let result = try await ssh.run(
            "read -r secret; echo \"got ${#secret} chars\"; ps -eo args | grep -c 'hunter2-valu[e]' || true",
            on: sshd.endpoint, stdin: "hunter2-value\n", deadline: .seconds(10))
        #expect(result.stdout.hasPrefix("got 13 chars\n"))
        #expect(result.stdout.hasSuffix("0\n"))
        let noInput = try await ssh.run("cat; echo done", on: sshd.endpoint, deadline: .seconds(10))
        #expect(noInput.stdout == "done\n")
    }

    @Test(.needsSSHD) func largeOutputIsCapturedWhole() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let result = try await ssh.run("seq 1 50000", on: sshd.endpoint, deadline: .seconds(20))
        #expect(result.stdout.split(separator: "\n").count == 50000)
    }

    @Test(.needsSSHD) func deadlineClosesTheConnection() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let started = ContinuousClock.now
        do {
            _ = try await ssh.run("sleep 60", on: sshd.endpoint, deadline: .milliseconds(800))
            Issue.record("expected a timeout")
        } catch let error as SSHError {
            guard case .timedOut = error.kind else {
                Issue.record("expected timedOut, got \(error)")
                return
            }
            #expect(error.description.contains("sleep 60"))
        }
        // Far sooner than the command would end: the deadline, not the command, ended the call.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test(.needsSSHD) func hostKeyIsPinnedOnFirstContactAndAChangedKeyIsRejected() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let knownHosts = TestEnvironment.temporaryPath("known_hosts")
        let ssh = try sshd.executor(knownHosts: knownHosts)
        _ = try await ssh.run("true", on: sshd.endpoint, deadline: .seconds(10))
        let pinned = try String(contentsOfFile: knownHosts, encoding: .utf8)
        let hostKey = try String(contentsOfFile: sshd.hostKeyPub, encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        #expect(pinned == "[127.0.0.1]:\(sshd.port) \(hostKey)\n")
        await ssh.closeConnections()
        _ = try await ssh.run("true", on: sshd.endpoint, deadline: .seconds(10))
        await ssh.closeConnections()

        let impostor = SSHIdentity.generate().publicKeyLine
        try "[127.0.0.1]:\(sshd.port) \(impostor)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        let started = ContinuousClock.now
        do {
            _ = try await ssh.run("touch /tmp/should-not-run", on: sshd.endpoint, deadline: .seconds(10))
            Issue.record("expected a host key error")
        } catch let error as SSHError {
            guard case .hostKeyChanged(let pinnedPrint, let presented, let path) = error.kind else {
                Issue.record("expected hostKeyChanged, got \(error)")
                return
            }
            #expect(pinnedPrint.hasPrefix("SHA256:") && presented.hasPrefix("SHA256:") && pinnedPrint != presented)
            #expect(path == knownHosts)
            #expect(error.isRetryable == false)
            #expect(error.description.contains("HOST KEY CHANGED"))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test(.needsSSHD) func deadNodeIsRetriedThenFailsCleanly() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor(connectAttempts: 3)
        let closedPort = try await Self.closedPort()
        let started = ContinuousClock.now
        do {
            _ = try await ssh.run("true", on: SSHEndpoint(host: "127.0.0.1", port: closedPort), deadline: .seconds(10))
            Issue.record("expected a connect failure")
        } catch let error as SSHError {
            guard case .connectFailed(let attempts, _) = error.kind else {
                Issue.record("expected connectFailed, got \(error)")
                return
            }
            #expect(attempts == 3)
            #expect(error.isRetryable)
            #expect(error.description.contains("127.0.0.1:\(closedPort)"))
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(150))  // waited 50 ms + 100 ms between the three attempts
        #expect(elapsed < .seconds(5))
    }

    @Test(.needsSSHD) func reachabilityIsASingleNonSleepingLook() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        // Five attempts 20 s apart: a look that retried would take at least 80 s; one look takes far less,
        // however loaded the machine (a connection to a closed port is refused at once).
        let ssh = try sshd.executor(connectAttempts: 5, connectTimeout: .seconds(15), connectRetryWait: .seconds(20))
        #expect(try await ssh.checkReachable(sshd.endpoint))
        let started = ContinuousClock.now
        let closed = SSHEndpoint(host: "127.0.0.1", port: try await Self.closedPort())
        #expect(try await ssh.checkReachable(closed) == false)
        #expect(ContinuousClock.now - started < .seconds(20), "a single look, no retry")
    }

    @Test(.needsSSHD) func refusedKeyIsAnAuthenticationError() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let keyPath = TestEnvironment.temporaryPath("id_ed25519")
        let generate = try await ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath], timeout: .seconds(30))
        #expect(generate.status == 0, "\(generate)")
        let stranger = SSHExecutor(
            configuration: SSHConfiguration(
                identity: try SSHIdentity.load(privateKeyPath: keyPath),
                knownHosts: KnownHostsFile(path: TestEnvironment.temporaryPath("known_hosts")), connectAttempts: 1))
        do {
            _ = try await stranger.run("true", on: sshd.endpoint, deadline: .seconds(10))
            Issue.record("expected an authentication failure")
        } catch let error as SSHError {
            #expect(error.kind == .authenticationFailed)
        }
    }

    @Test func generatedKeysRoundTripThroughOpenSSHFiles() async throws {
        let identity = SSHIdentity.generate()
        let text = identity.openSSHPrivateKey(comment: "kaji-test")
        #expect(!"\(identity)".contains(text))
        let reread = try SSHIdentity(openSSHPrivateKey: text)
        #expect(reread.publicKeyLine == identity.publicKeyLine)
        let path = TestEnvironment.temporaryPath("generated_ed25519")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let keygen = try await ChildProcess.run("/usr/bin/ssh-keygen", ["-y", "-f", path], timeout: .seconds(30))
        let derived = keygen.stdout
        #expect(keygen.status == 0)
        #expect(derived.hasPrefix(identity.publicKeyLine))
    }

    @Test(.needsSSHD) func keyFilesAreCheckedAndNeverPrinted() throws {
        let sshd = try TestSSHD.fromEnvironment()
        let identity = try SSHIdentity.load(privateKeyPath: sshd.clientKey)
        let pub = try String(contentsOfFile: sshd.clientKey + ".pub", encoding: .utf8)
        #expect(pub.hasPrefix(identity.publicKeyLine))
        #expect("\(identity)".hasPrefix("SSHIdentity(SHA256:"))
        let bogus = TestEnvironment.temporaryPath("bogus")
        try "not a key".write(toFile: bogus, atomically: true, encoding: .utf8)
        #expect(throws: SSHError.self) { try SSHIdentity.load(privateKeyPath: bogus) }
        #expect(throws: SSHError.self) { try SSHIdentity.load(privateKeyPath: sshd.clientKey + ".missing") }
    }

    @Test(.needsSSHD) func aKilledCommandReportsItsSignalAndTheConnectionIsReused() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let killed = try await ssh.run("kill -KILL $$", on: sshd.endpoint, deadline: .seconds(10))
        #expect(killed.signal == "KILL" && killed.exitStatus == -1)
        let first = try await ssh.run("echo $PPID", on: sshd.endpoint, deadline: .seconds(10))
        let second = try await ssh.run("echo $PPID", on: sshd.endpoint, deadline: .seconds(10))
        #expect(first.succeeded && second.succeeded)
        let reconnecting = try sshd.executor()
        await reconnecting.closeConnections()
        _ = try await reconnecting.run("true", on: sshd.endpoint, deadline: .seconds(10))
        await reconnecting.closeConnections()
        let after = try await reconnecting.run("echo again", on: sshd.endpoint, deadline: .seconds(10))
        #expect(after.stdout == "again\n")
    }

    @Test(.needsSSHD) func concurrentCommandsOnOneNode() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        let ssh = try sshd.executor()
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<8 {
                group.addTask { try await ssh.run("echo \(index)", on: sshd.endpoint, deadline: .seconds(20)).stdout }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(results) == Set((0..<8).map { "\($0)\n" }))
    }

    /// A loopback port nothing listens on: bind, read the port, close.
    /// A loopback port nothing listens on, held (bound, never listening) for the rest of the test process,
    /// so that no server started by a parallel test can take it: a connection to it is refused at once.
    static func closedPort() async throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw KajiTestingError("no socket for a closed port: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { close(fd); throw KajiTestingError("cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
