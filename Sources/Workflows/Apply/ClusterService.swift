import Engine
import Foundation

/// A manifest check: the `kaji validate --json` document (and `kaji apply --json` for a refused manifest).
public struct ManifestReport: Codable, Sendable, Equatable {
    /// Where the manifest came from, as the caller named it (a file path, `-`, a request).
    public var file: String
    public var cluster: String?
    public var valid: Bool
    public var problems: [ManifestProblem]

    public init(file: String, cluster: String?, valid: Bool, problems: [ManifestProblem]) {
        self.file = file
        self.cluster = cluster
        self.valid = valid
        self.problems = problems
    }
}

/// What an apply did: the `kaji apply --json` document.
public struct ApplyReport: Codable, Sendable {
    public var plan: ApplyPlan
    public var dryRun: Bool
    /// The run enqueued (or found by its idempotency key); nil for a dry run or nothing to do.
    public var runID: UUID?
    /// False when the same manifest had been applied already (the existing run is returned).
    public var created: Bool?
    /// That run's state now (useful when it existed already: it may have failed).
    public var runState: RunState?
    /// What happened to the nightly backup schedule (nil: a dry run, or none asked for).
    public var backupSchedule: ClusterBackupSchedule.Registration?
    /// True when the plan's `settings` were recorded in the inventory (nil: a dry run, or none changed).
    public var settingsRecorded: Bool?

    public init(plan: ApplyPlan, dryRun: Bool, runID: UUID? = nil, created: Bool? = nil, runState: RunState? = nil,
                backupSchedule: ClusterBackupSchedule.Registration? = nil, settingsRecorded: Bool? = nil) {
        self.plan = plan
        self.dryRun = dryRun
        self.runID = runID
        self.created = created
        self.runState = runState
        self.backupSchedule = backupSchedule
        self.settingsRecorded = settingsRecorded
    }
}

extension ApplyRefused {
    /// The refusal as an engine error: code `manifest_invalid`, the first problem's field (a manifest path
    /// such as `workers.replicas`) and every problem in the message.
    public var kajiError: KajiError {
        KajiError(.manifestInvalid, description, field: problems.first?.field)
    }
}

/// The cluster face of the door: validate, plan and apply manifests, read the inventory. It wraps a
/// `KajiClient` (whose catalog must know the cluster kinds, e.g. `WorkflowCatalog.kaji`); every write goes
/// through that client.
public struct ClusterService: Sendable {
    public let client: KajiClient
    private let inventory: ClusterInventory

    public init(client: KajiClient) {
        self.client = client
        self.inventory = ClusterInventory(store: client.store)
    }

    /// Reads and validates a manifest (YAML text) without touching the database: every problem, with its
    /// field path and line.
    public static func validate(yaml: String, file: String) -> (spec: ClusterSpec?, report: ManifestReport) {
        let check = ClusterManifest.check(yaml: yaml)
        guard let spec = check.spec, check.problems.isEmpty else {
            return (nil, ManifestReport(file: file, cluster: check.spec?.name, valid: false, problems: check.problems))
        }
        return (spec, ManifestReport(file: file, cluster: spec.name, valid: true, problems: []))
    }

    /// What applying `spec` would do, given the inventory and the runs working on the cluster now.
    /// - Throws: `ApplyRefused` naming the fields (see `ClusterApply.plan`).
    public func plan(_ spec: ClusterSpec) async throws -> ApplyPlan {
        let existing = try await inventory.get(spec.name)
        let active = try await inventory.activeRuns(cluster: spec.name)
        return try ClusterApply.plan(spec, existing: existing, active: active)
    }

    /// Applies `spec`: plans it, then (unless `dryRun`) records the settings that changed in the inventory
    /// (`ApplyPlan.settings`, e.g. `healthCheck.interval`, which the health checkers use from their next
    /// look), registers its nightly backup schedule and enqueues the run the plan asks for, as `actor`, with
    /// the concurrency key `cluster:NAME` and an idempotency key of the manifest (applying twice enqueues once).
    /// - Throws: `ApplyRefused` when the manifest cannot be applied (nothing changed), or when the cluster
    ///   left the states a setting may change in (provisioning, ready, scaling) between plan and write.
    public func apply(_ spec: ClusterSpec, dryRun: Bool, actor: String) async throws -> ApplyReport {
        let plan = try await plan(spec)
        if dryRun { return ApplyReport(plan: plan, dryRun: true) }
        var settingsRecorded: Bool?
        if let settings = plan.settings, !settings.isEmpty {
            guard try await inventory.setHealthCheck(spec.name, spec.healthCheck) else {
                let state = try await inventory.get(spec.name)?.state ?? "gone"
                throw ApplyRefused(cluster: spec.name, problems: [ManifestProblem(
                    field: settings[0].field, reason: "cluster \(spec.name) is \(state) now, not provisioning, ready or scaling: nothing was changed; apply again")])
            }
            settingsRecorded = true
        }
        // The manifest's nightly backup: registered on every apply, so the schedule follows the manifest.
        var registration: ClusterBackupSchedule.Registration?
        if let schedule = plan.backupSchedule {
            registration = try await schedule.register(with: client, actor: actor)
        }
        guard let kind = plan.kind, let input = plan.input else {
            return ApplyReport(plan: plan, dryRun: false, backupSchedule: registration, settingsRecorded: settingsRecorded)
        }
        let request = EnqueueRequest(kind: kind, input: input, idempotencyKey: plan.idempotencyKey,
                                     concurrencyKey: plan.concurrencyKey, actor: actor)
        let result = try await client.enqueue(request)
        let state = try await client.runSummary(id: result.id).state
        return ApplyReport(plan: plan, dryRun: false, runID: result.id, created: result.created, runState: state,
                           backupSchedule: registration, settingsRecorded: settingsRecorded)
    }

    /// The clusters in the inventory, by name.
    public func clusters() async throws -> [ClusterRecord] {
        try await inventory.list()
    }

    /// The inventory's record of a cluster, or nil.
    public func record(named name: String) async throws -> ClusterRecord? {
        try await inventory.get(name)
    }

    /// The inventory's record of a cluster; throws `clusterNotFound` (field `name`).
    public func cluster(named name: String) async throws -> ClusterRecord {
        guard let record = try await inventory.get(name) else {
            throw KajiError(.clusterNotFound, "no cluster named '\(name)' in the inventory (kaji clusters lists them)", field: "name")
        }
        return record
    }
}
