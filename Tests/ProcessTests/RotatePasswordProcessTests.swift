import Engine
import Foundation
import KajiTesting
import Provisioner
import Testing
import Workflows

/// `cluster.rotate-password` end to end over the real sshd and the simulated node tools: the new password
/// works, the initial secret is gone, and the plaintext is nowhere: not in any table, not in `kaji show
/// --json`, not in the logs (moved from WorkflowsTests' RotatePasswordTests).
@Suite("Rotate-password workflow end to end, with kaji show", .timeLimit(.minutes(3)))
struct RotatePasswordProcessTests {
    typealias F = BackupFixtures

    static func registry(_ services: ClusterServices, loginAttempts: Int = 1) -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        registry.register(RotatePasswordWorkflow(
            services: services, vault: EngineSecretVault(), retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(100)),
            loginAttempts: loginAttempts))
        return registry
    }

    /// The stored value of a secret (audited as revealed by the test).
    static func reveal(_ secret: Secret, env: F.Env) async throws -> String {
        try await env.store.revealSecret(secret, key: try SecretKey.fromEnvironment(), actor: "test:backup")
    }

    /// `argocd login` on the node with `password` on stdin.
    static func login(_ ssh: SSHExecutor, _ cluster: F.Cluster, _ password: String) async throws -> SSHCommandResult {
        try await ssh.run(ArgoCD.loginWithStdinPasswordCommand, on: cluster.master, stdin: password + "\n", deadline: .seconds(20))
    }

    static func argocdSecrets(_ ssh: SSHExecutor, _ cluster: F.Cluster) async throws -> [String: [String: String]] {
        let state = try await F.worldState(ssh, cluster)
        let world = try #require(state["cluster"] as? [String: Any])
        return try #require(world["secrets"] as? [String: [String: String]])
    }

    /// Fails when `password` occurs in the database, `kaji show --json`, the captured logs or any command
    /// line or argv on the node.
    static func expectNowhere(_ password: String, env: F.Env, run: UUID, cluster: F.Cluster, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let commands = try F.nodeCommandLog(cluster)
        #expect(commands.contains("import bcrypt") && commands.contains("patch secret argocd-secret --patch-file /dev/stdin")
                && commands.contains(#""argocd", "login", "--port-forward""#), "the node's command log is incomplete", sourceLocation: sourceLocation)
        #expect(!commands.contains(password), "the password was in a process argument on the node", sourceLocation: sourceLocation)
        let rows = try await F.everyRowAsText(env)
        #expect(rows.contains(run.uuidString.lowercased()), "the database dump should hold the run", sourceLocation: sourceLocation)
        #expect(!rows.contains(password), "the password is in the database", sourceLocation: sourceLocation)
        let shown = try await F.kajiShowJSON(env, run)
        #expect(shown.contains("rotate-admin-password"), sourceLocation: sourceLocation)
        #expect(!shown.contains(password), "the password is in kaji show --json", sourceLocation: sourceLocation)
        let logs = env.logs.text
        #expect(logs.contains("argocd admin password rotated") || logs.contains("step failed"), sourceLocation: sourceLocation)
        #expect(!logs.contains(password), "the password is in the logs", sourceLocation: sourceLocation)
    }

    @Test(.needsDatabaseAndSSHD) func rotationSetsAWorkingPasswordKeptOnlyEncrypted() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            let before = try await Self.argocdSecrets(ssh, cluster)
            let initialPassword = try #require(before["argocd/argocd-initial-admin-secret"]?["password"]).base64Decoded
            #expect(try await Self.login(ssh, cluster, initialPassword).succeeded)

            try F.ensureSecretKey()
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.rotate-password", input: RotatePasswordInput(cluster: cluster.name))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            #expect(detail.steps.map(\.name) == ["resolve", "rotate-admin-password", "delete-initial-secret"])
            let output = try KajiJSON.decode(RotatePasswordOutput<Secret>.self, from: try #require(detail.output))
            #expect(output.secretName == "argocd-admin-password:\(cluster.name)")
            #expect(output.initialSecretDeleted)
            let stored = try await env.store.listSecrets(name: output.secretName)
            #expect(stored.map(\.secret) == [output.secret] && stored.first?.runId == id && stored.first?.step == "rotate-admin-password")
            #expect(detail.events.contains { $0.type == "secret.stored" })
            let password = try await Self.reveal(output.secret, env: env)
            #expect(password.count >= 24)
            let result = try #require(detail.steps.first { $0.name == "rotate-admin-password" }?.result)
            #expect(result.contains("$secret") && result.contains(output.secret.id.uuidString.lowercased()))

            // On the node: a bcrypt hash and a fresh mtime in argocd-secret, no initial secret, the new login works.
            let after = try await Self.argocdSecrets(ssh, cluster)
            #expect(after["argocd/argocd-initial-admin-secret"] == nil)
            let argocd = try #require(after["argocd/argocd-secret"])
            #expect(ArgoCD.isBcryptHash(try #require(argocd["admin.password"]).base64Decoded))
            #expect(try #require(argocd["admin.passwordMtime"]).base64Decoded.hasPrefix(String(KajiJSON.format(output.rotatedAt).prefix(10))))
            let worked = try await Self.login(ssh, cluster, password)
            #expect(worked.succeeded && worked.stdout.contains("logged in successfully"))
            #expect(try await Self.login(ssh, cluster, initialPassword).exitStatus == 20)
            #expect(try await Self.login(ssh, cluster, password + "x").exitStatus == 20)
            #expect(!(try await F.simNode(ssh, cluster, "state")).contains(password))

            try await Self.expectNowhere(password, env: env, run: id, cluster: cluster)

            // The command log does catch a password expanded into argv (why the rotation does not use
            // ArgoCD.loginFromStdinCommand, whose `--password "$KAJI_PW"` shows in `ps`).
            let canary = "canary-\(UUID().uuidString.prefix(8))"
            _ = try await ssh.run(ArgoCD.loginFromStdinCommand(server: "argocd.example"), on: cluster.master, stdin: canary + "\n", deadline: .seconds(20))
            #expect(try F.nodeCommandLog(cluster).contains(canary))
        }
    }

    /// A login that fails after the patch: the attempt fails with a message free of the password, the retry
    /// rotates again with a new password (kept encrypted too), and only the last one works.
    @Test(.needsDatabaseAndSSHD) func aFailedVerificationRotatesAgainAndLeaksNeitherPassword() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            try await F.simNode(ssh, cluster, "fail 'argocd login' --exit 20 --stderr 'FATA[0000] rpc error: code = Unavailable desc = connection refused'")

            try F.ensureSecretKey()
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.rotate-password", input: RotatePasswordInput(cluster: cluster.name))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            let step = try #require(detail.steps.first { $0.name == "rotate-admin-password" })
            #expect(step.attempts == 2)
            let firstError = try #require(step.history.first?.error)
            #expect(firstError.contains("argocd login with the new password failed") && firstError.contains("connection refused"))

            let output = try KajiJSON.decode(RotatePasswordOutput<Secret>.self, from: try #require(detail.output))
            let stored = try await env.store.listSecrets(name: output.secretName).sorted { $0.createdAt < $1.createdAt }
            #expect(stored.count == 2 && stored.last?.secret == output.secret)
            var passwords: [String] = []
            for info in stored { passwords.append(try await Self.reveal(info.secret, env: env)) }
            #expect(Set(passwords).count == 2)
            #expect(try await Self.login(ssh, cluster, passwords[0]).exitStatus == 20)
            #expect(try await Self.login(ssh, cluster, passwords[1]).succeeded)
            for password in passwords {
                try await Self.expectNowhere(password, env: env, run: id, cluster: cluster)
            }
        }
    }
}

fileprivate extension String {
    /// The text this base64 encodes (empty when it is not base64).
    var base64Decoded: String {
        Data(base64Encoded: self).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}
