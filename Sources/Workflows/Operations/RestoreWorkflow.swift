import Engine
import Foundation
import Provisioner

/// What `cluster.restore` did.
public struct RestoreOutput: Codable, Sendable, Equatable {
    public var cluster: String
    /// The backup restored from.
    public var backup: String
    /// The restore's name (`BACKUP-YYYYMMDDhhmmss`, as Velero names restores itself).
    public var restore: String
    public var node: String
    /// Always `Completed` (any other final phase fails the run).
    public var phase: BackupPhase
    public var errors: Int
    public var warnings: Int
    public var totalItems: Int?
    public var itemsRestored: Int?
}

/// `cluster.restore`: `velero restore create NAME --from-backup BACKUP --wait` on the cluster's first
/// master, then the real phase, as `cluster.backup` does. The backup must exist and be `Completed` or
/// `PartiallyFailed` (what Velero restores from); otherwise the run fails before anything is restored.
///
/// Steps: `resolve`, `create-restore` (adopts the restore this run already created), `restore-phase`
/// (durable poll), `check-phase`.
public struct RestoreWorkflow: Workflow {
    public static let kind = ClusterKinds.restore
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: RestoreInput) -> String? { input.concurrencyKey }
    public typealias Input = RestoreInput
    public typealias Output = RestoreOutput

    let services: ClusterServices
    let timing: VeleroTiming

    /// - Parameters: defaults as in ``VeleroTiming``: `--wait` holds the slot for at most 20 min, then the
    ///   phase is polled every 15 s for up to 6 h; resolve and create retry 3 times from 2 s.
    public init(
        services: ClusterServices, waitDeadline: Duration = .seconds(20 * 60), pollEvery: Duration = .seconds(15),
        pollTimeout: Duration = .seconds(6 * 3600), retry: RetryPolicy = RetryPolicy(maxAttempts: 3, initialDelay: .seconds(2)),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.services = services
        self.timing = VeleroTiming(waitDeadline: waitDeadline, pollEvery: pollEvery, pollTimeout: pollTimeout, retry: retry, now: now)
    }

    struct Plan: Codable, Sendable {
        var target: ClusterCommandNode
        var restore: String
    }

    public func run(_ input: RestoreInput, context: WorkflowContext) async throws -> RestoreOutput {
        let services = self.services
        let now = timing.now
        let plan = try await context.step("resolve", retry: timing.retry) { _ in
            let target = try await ClusterCommandNode.resolve(input.cluster, inventory: services.inventory)
            return Plan(target: target, restore: Self.restoreName(backup: input.backup, at: now()))
        }
        let reader = VeleroReader(ssh: services.ssh, target: plan.target)
        let waitDeadline = timing.waitDeadline
        _ = try await context.step("create-restore", retry: timing.retry) { step in
            try await Self.create(plan, backup: input.backup, reader: reader, step: step, waitDeadline: waitDeadline)
        }
        let status = try await context.waitUntil("restore-phase", every: timing.pollEvery, timeout: timing.pollTimeout) {
            try await reader.poll(.restore, plan.restore)
        }
        return try await context.step("check-phase", retry: .never) { step in
            guard status.phase.isSuccess else {
                let problems = await reader.problems(.restore, plan.restore)
                throw WorkflowError(
                    VeleroReader.failureMessage(.restore, plan.restore, cluster: input.cluster, status: status, problems: problems),
                    nonRetryable: true)
            }
            step.logger.info("restore completed", metadata: ["cluster": "\(input.cluster)", "restore": "\(plan.restore)"])
            return RestoreOutput(
                cluster: input.cluster, backup: input.backup, restore: plan.restore, node: plan.target.node.name, phase: status.phase,
                errors: status.errors, warnings: status.warnings, totalItems: status.totalItems, itemsRestored: status.itemsDone)
        }
    }

    /// `BACKUP-YYYYMMDDhhmmss` (UTC), the backup part shortened to fit 63 characters.
    static func restoreName(backup: String, at date: Date) -> String {
        BackupNames.timestamped(backup, at: date, dashInStamp: false)
    }

    /// Whether Velero restores from a backup in this phase.
    static func isRestorable(_ phase: BackupPhase) -> Bool {
        phase == .completed || phase == .partiallyFailed
    }

    /// Creates the restore unless this run already did.
    static func create(_ plan: Plan, backup: String, reader: VeleroReader, step: StepContext, waitDeadline: Duration) async throws -> Bool {
        let runLabel = step.runID.uuidString.lowercased()
        if let existing = try await reader.status(.restore, plan.restore) {
            guard existing.labels[VeleroRunLabel.key] == runLabel else {
                throw WorkflowError("a restore named '\(plan.restore)' already exists on cluster \(plan.target.cluster) (not made by this run); enqueue the restore again", nonRetryable: true)
            }
            return false
        }
        guard let source = try await reader.status(.backup, backup) else {
            throw WorkflowError("backup: cluster \(plan.target.cluster) has no backup named '\(backup)' (see `velero backup get` on \(plan.target.node.name))", nonRetryable: true)
        }
        guard isRestorable(source.phase) else {
            throw WorkflowError("backup: '\(backup)' on cluster \(plan.target.cluster) is \(source.phase); Velero restores only from Completed or PartiallyFailed backups", nonRetryable: true)
        }
        try await step.checkLease()
        let command = Velero.restoreCreateCommand(name: plan.restore, fromBackup: backup, labels: [VeleroRunLabel.key: runLabel])
        let result: SSHCommandResult
        do {
            result = try await reader.ssh.run(command, on: reader.target.endpoint, deadline: waitDeadline)
        } catch let error as SSHError {
            if case .timedOut = error.kind { return true }
            throw WorkflowError("\(error)", nonRetryable: !error.isRetryable)
        }
        guard result.succeeded else {
            throw WorkflowError(
                "`velero restore create \(plan.restore)` on \(plan.target.node.name) exited \(result.exitStatus): \(VeleroReader.tail(result.stderr))")
        }
        return true
    }
}
