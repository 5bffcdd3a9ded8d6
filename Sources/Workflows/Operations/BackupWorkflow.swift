import Engine
import Foundation
import Provisioner

/// What `cluster.backup` did.
public struct BackupOutput: Codable, Sendable, Equatable {
    public var cluster: String
    /// The backup's name.
    public var backup: String
    /// The node the commands ran on.
    public var node: String
    /// Always `Completed` (any other final phase fails the run).
    public var phase: BackupPhase
    public var errors: Int
    public var warnings: Int
    public var totalItems: Int?
    public var itemsBackedUp: Int?
}

/// The Velero label naming the run that created a backup or restore, so that a resumed run adopts its
/// own object and never mistakes someone else's for it.
public enum VeleroRunLabel {
    public static let key = "kaji-run"
}

/// `cluster.backup`: `velero backup create NAME --wait` on the cluster's first master, then the real phase
/// (the CLI exits 0 even when the backup failed). `Completed` succeeds with the item counts;
/// `PartiallyFailed`, `Failed` and `FailedValidation` fail the run, not retryably, with Velero's errors and
/// warnings in the message.
///
/// Steps: `resolve` (the master and the backup name, checkpointed so a resume keeps the same name),
/// `create-backup` (looks the name up first: a backup this run already created is adopted, never created
/// twice; one created by anybody else is refused), `backup-phase` (a durable poll of
/// `velero backup get -o json` until a final phase; normally done at the first look because `--wait`
/// already waited), `check-phase`.
public struct BackupWorkflow: Workflow {
    public static let kind = ClusterKinds.backup
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: BackupInput) -> String? { input.concurrencyKey }
    public typealias Input = BackupInput
    public typealias Output = BackupOutput

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

    /// The backup this run makes: where and under which name.
    struct Plan: Codable, Sendable {
        var target: ClusterCommandNode
        var backup: String
        var storageLocation: String?
        var ttl: String?
    }

    /// What `create-backup` found or did.
    struct Created: Codable, Sendable {
        /// False when the backup already existed (created by this run before a resume).
        var created: Bool
        /// The phase `--wait` printed, if it printed one (informational: the phase is read again).
        var reportedPhase: BackupPhase?
    }

    public func run(_ input: BackupInput, context: WorkflowContext) async throws -> BackupOutput {
        let services = self.services
        let now = timing.now
        let plan = try await context.step("resolve", retry: timing.retry) { _ in
            let (target, record) = try await ClusterCommandNode.lookup(input.cluster, inventory: services.inventory)
            return Plan(target: target, backup: input.name ?? BackupNames.timestamped(input.cluster, at: now()),
                        storageLocation: record.spec.velero?.storageLocation, ttl: record.spec.velero?.ttl)
        }
        let reader = VeleroReader(ssh: services.ssh, target: plan.target)
        let waitDeadline = timing.waitDeadline
        let created = try await context.step("create-backup", retry: timing.retry) { step in
            try await Self.create(plan, reader: reader, step: step, waitDeadline: waitDeadline)
        }
        let status = try await context.waitUntil("backup-phase", every: timing.pollEvery, timeout: timing.pollTimeout) {
            try await reader.poll(.backup, plan.backup)
        }
        return try await context.step("check-phase", retry: .never) { step in
            guard status.phase.isSuccess else {
                let problems = await reader.problems(.backup, plan.backup)
                throw WorkflowError(
                    VeleroReader.failureMessage(.backup, plan.backup, cluster: input.cluster, status: status, problems: problems),
                    nonRetryable: true)
            }
            step.logger.info("backup completed", metadata: [
                "cluster": "\(input.cluster)", "backup": "\(plan.backup)", "created": "\(created.created)",
                "items": "\(status.itemsDone.map(String.init) ?? "?")/\(status.totalItems.map(String.init) ?? "?")",
            ])
            return BackupOutput(
                cluster: input.cluster, backup: plan.backup, node: plan.target.node.name, phase: status.phase,
                errors: status.errors, warnings: status.warnings, totalItems: status.totalItems, itemsBackedUp: status.itemsDone)
        }
    }

    /// Creates the backup unless this run already did. A backup of that name made by anybody else fails the
    /// run (non-retryable): choose another name.
    static func create(_ plan: Plan, reader: VeleroReader, step: StepContext, waitDeadline: Duration) async throws -> Created {
        let runLabel = step.runID.uuidString.lowercased()
        if let existing = try await reader.status(.backup, plan.backup) {
            guard existing.labels[VeleroRunLabel.key] == runLabel else {
                throw WorkflowError(
                    "name: a backup named '\(plan.backup)' already exists on cluster \(plan.target.cluster) (not made by this run): choose another name",
                    nonRetryable: true)
            }
            return Created(created: false, reportedPhase: existing.phase)
        }
        try await step.checkLease()
        let command = Velero.backupCreateCommand(
            name: plan.backup, storageLocation: plan.storageLocation, ttl: plan.ttl, labels: [VeleroRunLabel.key: runLabel])
        let result: SSHCommandResult
        do {
            result = try await reader.ssh.run(command, on: reader.target.endpoint, deadline: waitDeadline)
        } catch let error as SSHError {
            if case .timedOut = error.kind {
                // The backup goes on in Velero; `backup-phase` polls it durably.
                step.logger.info("velero --wait outlasted its deadline; polling the phase instead", metadata: ["backup": "\(plan.backup)"])
                return Created(created: true, reportedPhase: nil)
            }
            throw WorkflowError("\(error)", nonRetryable: !error.isRetryable)
        }
        guard result.succeeded else {
            throw WorkflowError(
                "`velero backup create \(plan.backup)` on \(plan.target.node.name) exited \(result.exitStatus): \(VeleroReader.tail(result.stderr))")
        }
        return Created(created: true, reportedPhase: Velero.parseCompletion(result.stdout))
    }
}
