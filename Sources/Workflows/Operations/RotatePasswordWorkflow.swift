import Engine
import Foundation
import Provisioner

/// What `cluster.rotate-password` did. Holds the password only as a reference to its encrypted copy.
public struct RotatePasswordOutput<Reference: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var cluster: String
    /// The node the commands ran on.
    public var node: String
    /// The new password, encrypted (e.g. `{"$secret": "<uuid>"}`).
    public var secret: Reference
    /// The name it is stored under: `argocd-admin-password:CLUSTER`.
    public var secretName: String
    /// The `admin.passwordMtime` written (sessions issued before it are invalid).
    public var rotatedAt: Date
    /// Whether `argocd-initial-admin-secret` was still there and has been deleted.
    public var initialSecretDeleted: Bool
}

/// `cluster.rotate-password`: a new random Argo CD admin password, set on the cluster's first master.
///
/// Step `rotate-admin-password` does everything that needs the plaintext, so that it is never
/// checkpointed: generate (32 characters from the system's secure generator) → store it encrypted through
/// the vault (first, so that a password set on the cluster is never lost) → bcrypt it on the node (password
/// on stdin) → patch `argocd-secret` with `admin.password` and `admin.passwordMtime` (the patch on stdin) →
/// log in with it (password on stdin). Its result is the secret's reference only. A failed attempt is
/// retried with a new password; the earlier encrypted copy stays unused. Errors have the password and its
/// hash cut out. Then `delete-initial-secret` removes `argocd-initial-admin-secret`.
///
/// The plaintext appears in no step result, error, log line, audit event, or process argument on the node.
public struct RotatePasswordWorkflow<Vault: PasswordVault>: Workflow {
    public static var kind: String { ClusterKinds.rotatePassword }
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: RotatePasswordInput) -> String? { input.concurrencyKey }
    public typealias Input = RotatePasswordInput
    public typealias Output = RotatePasswordOutput<Vault.Reference>

    let services: ClusterServices
    let vault: Vault
    /// For the rotation step (default 3 attempts, 2 s doubling).
    let retry: RetryPolicy
    /// Login attempts after the patch, 1 s apart (default 3): Argo CD reads the secret again on change.
    let loginAttempts: Int
    /// Each node command's deadline (default 60 s).
    let commandDeadline: Duration
    /// The clock of `admin.passwordMtime` (default `Date.init`).
    let now: @Sendable () -> Date

    public init(
        services: ClusterServices, vault: Vault, retry: RetryPolicy = RetryPolicy(maxAttempts: 3, initialDelay: .seconds(2)),
        loginAttempts: Int = 3, commandDeadline: Duration = .seconds(60), now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.services = services
        self.vault = vault
        self.retry = retry
        self.loginAttempts = max(loginAttempts, 1)
        self.commandDeadline = commandDeadline
        self.now = now
    }

    /// What the rotation step checkpoints: no plaintext, no hash.
    struct Rotation: Codable, Sendable {
        var secret: Vault.Reference
        var rotatedAt: Date
    }

    public func run(_ input: RotatePasswordInput, context: WorkflowContext) async throws -> Output {
        let services = self.services
        let target = try await context.step("resolve", retry: retry) { _ in
            try await ClusterCommandNode.resolve(input.cluster, inventory: services.inventory)
        }
        let secretName = "argocd-admin-password:\(input.cluster)"
        let rotation = try await context.step("rotate-admin-password", retry: retry) { step in
            try await rotate(on: target, secretName: secretName, step: step)
        }
        let deadline = commandDeadline
        let deleted = try await context.step("delete-initial-secret", retry: retry) { _ in
            let result = try await VeleroReader.run(services.ssh, ArgoCD.deleteInitialSecretCommand, on: target.endpoint, deadline: deadline)
            guard result.succeeded else {
                throw WorkflowError("deleting argocd-initial-admin-secret on \(target.node.name) exited \(result.exitStatus): \(VeleroReader.tail(result.stderr))")
            }
            return result.stdout.contains("deleted")
        }
        return Output(
            cluster: input.cluster, node: target.node.name, secret: rotation.secret, secretName: secretName,
            rotatedAt: rotation.rotatedAt, initialSecretDeleted: deleted)
    }

    /// One rotation attempt; see the type's documentation.
    func rotate(on target: ClusterCommandNode, secretName: String, step: StepContext) async throws -> Rotation {
        let password = PasswordGenerator.make()
        let node = NodeSession(ssh: services.ssh, target: target, deadline: commandDeadline, secrets: [password])
        do {
            let secret = try await vault.store(password, name: secretName, in: step)
            let hashed = try await node.run(ArgoCD.bcryptFromStdinCommand, stdin: password + "\n", what: "bcrypt of the new password")
            let hash = hashed.trimmingCharacters(in: .whitespacesAndNewlines)
            guard ArgoCD.isBcryptHash(hash) else {
                throw WorkflowError("bcrypt on \(target.node.name) printed no bcrypt hash (\(hash.count) characters); is python3 installed?", nonRetryable: true)
            }
            let hashing = node.adding(secret: hash)
            let rotatedAt = now()
            try await step.checkLease()
            _ = try await hashing.run(ArgoCD.patchSecretFromStdinCommand, stdin: ArgoCD.passwordPatch(bcryptHash: hash, mtime: rotatedAt),
                                      what: "patching argocd-secret")
            try await hashing.login(password: password, attempts: loginAttempts)
            step.logger.info("argocd admin password rotated", metadata: [
                "cluster": "\(target.cluster)", "node": "\(target.node.name)", "secret": "\(secret)",
            ])
            return Rotation(secret: secret, rotatedAt: rotatedAt)
        } catch let error as KajiError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw WorkflowError(node.redact(error.kajiDescription), nonRetryable: !error.kajiIsRetryable)
        }
    }
}

/// Commands on one node whose stdin carries secret values: they are checked never to appear in a command
/// line, and are cut out of every message.
struct NodeSession: Sendable {
    let ssh: SSHExecutor
    let target: ClusterCommandNode
    let deadline: Duration
    let secrets: [String]

    func adding(secret: String) -> NodeSession {
        NodeSession(ssh: ssh, target: target, deadline: deadline, secrets: secrets + [secret])
    }

    /// Runs `command` with `stdin`; returns stdout, throws on a non-zero exit (stderr redacted).
    func run(_ command: String, stdin: String, what: String) async throws -> String {
        let result = try await exec(command, stdin: stdin)
        guard result.succeeded else {
            throw WorkflowError("\(what) on \(target.node.name) exited \(result.exitStatus): \(redact(VeleroReader.tail(result.stderr)))")
        }
        return result.stdout
    }

    /// Logs in as admin with `password` on stdin, up to `attempts` times 1 s apart.
    func login(password: String, attempts: Int) async throws {
        var last = ""
        for attempt in 1...attempts {
            let result = try await exec(ArgoCD.loginWithStdinPasswordCommand, stdin: password + "\n")
            if result.succeeded { return }
            last = "exit \(result.exitStatus): \(redact(VeleroReader.tail(result.stderr)))"
            if attempt < attempts { try await Task.sleep(for: .seconds(1)) }
        }
        throw WorkflowError("argocd login with the new password failed on \(target.node.name) after \(attempts) attempt(s): \(last)")
    }

    private func exec(_ command: String, stdin: String) async throws -> SSHCommandResult {
        guard !secrets.contains(where: { !$0.isEmpty && command.contains($0) }) else {
            throw WorkflowError("refusing to run a node command that holds a secret value in its arguments", nonRetryable: true)
        }
        do {
            return try await ssh.run(command, on: target.endpoint, stdin: stdin, deadline: deadline)
        } catch let error as SSHError {
            throw WorkflowError(redact("\(error)"), nonRetryable: !error.isRetryable)
        }
    }

    /// `text` with every secret value replaced by `[redacted]`.
    func redact(_ text: String) -> String {
        secrets.reduce(text) { text, secret in secret.isEmpty ? text : text.replacingOccurrences(of: secret, with: "[redacted]") }
    }
}
