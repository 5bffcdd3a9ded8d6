import Crypto
import Engine
import Foundation

/// What `kaji apply` does with a manifest, decided from the manifest and the inventory alone (no I/O here).
public struct ApplyPlan: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        /// A new cluster: enqueue `cluster.provision`.
        case provision
        /// More masters or workers than the inventory has: enqueue `cluster.scale-out`.
        case scaleOut = "scale-out"
        /// Only settings apply records in the inventory itself changed (`settings`): no run.
        case update
        /// The inventory matches the manifest.
        case none
    }

    public var cluster: String
    public var action: Action
    /// One line saying why, e.g. `workers.replicas 2 → 4`.
    public var summary: String
    /// The kind to enqueue (nil for `.none`).
    public var kind: String?
    /// The run's input as JSON (`ProvisionInput`/`ScaleOutInput`; nil for `.none`).
    public var input: String?
    /// `cluster:NAME`.
    public var concurrencyKey: String
    /// `apply:NAME:<sha256>`: the same manifest against the same inventory gives the same key, so applying
    /// twice enqueues once (nil for `.none`).
    public var idempotencyKey: String?
    /// An outline of the steps the run will take (what `--dry-run` prints).
    public var steps: [String]
    /// The nightly backup schedule the manifest asks for (nil: none).
    public var backupSchedule: ClusterBackupSchedule?
    /// Settings of an existing cluster that apply records in the inventory itself, with no run (for now
    /// `healthCheck.interval`, which the workers' health checkers read at every look); nil: none changed.
    /// They come with `.update`, and with `.scaleOut` when the manifest changes both.
    public var settings: [SettingChange]?

    /// A setting that changes from the inventory's value to the manifest's.
    public struct SettingChange: Codable, Sendable, Equatable {
        /// The manifest's field, e.g. `healthCheck.interval`.
        public var field: String
        /// The value in the inventory, e.g. `30s (default)` when the field is absent there.
        public var from: String
        /// The manifest's value.
        public var to: String

        public init(field: String, from: String, to: String) {
            self.field = field
            self.from = from
            self.to = to
        }

        /// `healthCheck.interval 30s (default) → 5s`.
        public var summary: String { "\(field) \(from) → \(to)" }
    }
}

/// `kaji apply` refused a manifest: each problem names the field and what would be right.
public struct ApplyRefused: Error, Sendable, CustomStringConvertible {
    public var cluster: String
    public var problems: [ManifestProblem]

    public init(cluster: String, problems: [ManifestProblem]) {
        self.cluster = cluster
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Comparing a manifest with the inventory.
public enum ClusterApply {
    /// Decides what applying `spec` means given the inventory's record of the cluster (nil: unknown) and
    /// the runs working on it now (`ClusterInventory.activeRuns`, default none).
    /// The spec must be valid (`ClusterManifest.validate`); this checks it again and refuses an invalid one.
    /// - Throws: `ApplyRefused` for an invalid spec, shrinking, a change apply cannot make (zone, network,
    ///   plans, disks, version, owners, Velero), a cluster that is failed or being deleted, or a different
    ///   manifest (a changed setting among them) while a provision or scale-out of the cluster is still unfinished.
    public static func plan(_ spec: ClusterSpec, existing: ClusterRecord?, active: [ActiveClusterRun] = []) throws -> ApplyPlan {
        let plan = try decide(spec, existing: existing)
        // A provision or scale-out writes its own manifest into the inventory when it ends: a setting
        // recorded meanwhile would be lost.
        if plan.action == .update, let other = active.first(where: { [ClusterKinds.provision, ClusterKinds.scaleOut].contains($0.kind) }) {
            let id = other.id.uuidString.lowercased()
            throw ApplyRefused(cluster: spec.name, problems: [ManifestProblem(
                field: plan.settings?.first?.field ?? "name",
                reason: "cluster \(spec.name) has an unfinished \(other.kind) run \(id) (\(other.state.rawValue)), which records its own manifest when it ends: wait until it ends, then apply again")])
        }
        // The inventory learns of a cluster only when its provisioning ends: a second, different manifest
        // meanwhile would start a second provisioning. The same manifest finds its run by the key.
        if let key = plan.idempotencyKey,
           let other = active.first(where: { [ClusterKinds.provision, ClusterKinds.scaleOut].contains($0.kind) && $0.idempotencyKey != key }) {
            let id = other.id.uuidString.lowercased()
            throw ApplyRefused(cluster: spec.name, problems: [ManifestProblem(
                field: "name", reason: "cluster \(spec.name) has an unfinished \(other.kind) run \(id) (\(other.state.rawValue)) from a different manifest: wait until it ends, or cancel it (kaji cancel \(id)), then apply again")])
        }
        return plan
    }

    private static func decide(_ spec: ClusterSpec, existing: ClusterRecord?) throws -> ApplyPlan {
        let invalid = ClusterManifest.validate(spec)
        guard invalid.isEmpty else { throw ApplyRefused(cluster: spec.name, problems: invalid) }
        let specJSON = try canonicalJSON(spec)
        let schedule = ClusterBackupSchedule(spec: spec)
        guard let existing, existing.clusterState != .deleted else {
            let base = existing.map { "after deleted cluster, run \($0.lastRunID?.uuidString.lowercased() ?? KajiJSON.format($0.updatedAt))" } ?? ""
            return ApplyPlan(
                cluster: spec.name, action: .provision,
                summary: "new cluster \(spec.name): \(spec.masters.replicas) masters, \(spec.workers.replicas) workers in \(spec.zone)",
                kind: ClusterKinds.provision, input: try KajiJSON.string(ProvisionInput(spec: spec)),
                concurrencyKey: spec.concurrencyKey, idempotencyKey: idempotencyKey(spec.name, specJSON, base: base),
                steps: provisionOutline(spec), backupSchedule: schedule)
        }
        switch existing.clusterState {
        case .failed:
            let run = existing.lastRunID.map { $0.uuidString.lowercased() } ?? "?"
            throw ApplyRefused(cluster: spec.name, problems: [ManifestProblem(
                field: "name", reason: "cluster \(spec.name) is failed (last run \(run)): retry that run (kaji retry \(run)) or delete the cluster first")])
        case .deleting:
            throw ApplyRefused(cluster: spec.name, problems: [ManifestProblem(
                field: "name", reason: "cluster \(spec.name) is being deleted: wait until it is gone, then apply again")])
        default:
            break
        }
        let current = existing.spec
        var refusals = unchangeable(current, spec)
        for (field, was, now) in [("masters.replicas", current.masters.replicas, spec.masters.replicas),
                                  ("workers.replicas", current.workers.replicas, spec.workers.replicas)] where now < was {
            refusals.append(ManifestProblem(field: field, reason: "shrinking from \(was) to \(now) is refused: apply only adds nodes for now; keep \(was) or more"))
        }
        guard refusals.isEmpty else { throw ApplyRefused(cluster: spec.name, problems: refusals) }

        var grown: [String] = []
        if spec.masters.replicas > current.masters.replicas { grown.append("masters.replicas \(current.masters.replicas) → \(spec.masters.replicas)") }
        if spec.workers.replicas > current.workers.replicas { grown.append("workers.replicas \(current.workers.replicas) → \(spec.workers.replicas)") }
        let settings = settingChanges(current, spec)
        guard !grown.isEmpty else {
            guard settings.isEmpty else {
                return ApplyPlan(cluster: spec.name, action: .update,
                                 summary: "update \(spec.name): \(settings.map(\.summary).joined(separator: ", "))",
                                 kind: nil, input: nil, concurrencyKey: spec.concurrencyKey, idempotencyKey: nil,
                                 steps: settings.map { "record \($0.field) \($0.to) in the inventory (no run)" },
                                 backupSchedule: schedule, settings: settings)
            }
            return ApplyPlan(cluster: spec.name, action: .none, summary: "nothing to do: cluster \(spec.name) (\(existing.state)) matches the manifest",
                             kind: nil, input: nil, concurrencyKey: spec.concurrencyKey, idempotencyKey: nil, steps: [], backupSchedule: schedule)
        }
        return ApplyPlan(
            cluster: spec.name, action: .scaleOut, summary: "scale out \(spec.name): \((grown + settings.map(\.summary)).joined(separator: ", "))",
            kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: spec)),
            concurrencyKey: spec.concurrencyKey,
            idempotencyKey: idempotencyKey(spec.name, specJSON, base: "from " + sha256(try canonicalJSON(current))),
            steps: scaleOutOutline(spec, from: current), backupSchedule: schedule, settings: settings.isEmpty ? nil : settings)
    }

    /// The settings apply records itself that differ between the inventory's manifest and `wanted`:
    /// `healthCheck.interval` when the interval it means differs (`1m` and `60s` are the same; absent is 30 s).
    static func settingChanges(_ current: ClusterSpec, _ wanted: ClusterSpec) -> [ApplyPlan.SettingChange] {
        guard HealthCheckInterval.of(current) != HealthCheckInterval.of(wanted) else { return [] }
        func show(_ spec: ClusterSpec) -> String { spec.healthCheck?.interval ?? "30s (default)" }
        return [ApplyPlan.SettingChange(field: "healthCheck.interval", from: show(current), to: show(wanted))]
    }

    /// The spec as canonical JSON (sorted keys, no whitespace): the idempotency key is a hash of it.
    public static func canonicalJSON(_ spec: ClusterSpec) throws -> String {
        try KajiJSON.string(spec)
    }

    /// `apply:NAME:<sha256 hex of canonical spec JSON>`, with `base` (what the manifest is applied on top of)
    /// mixed in when it is not empty.
    static func idempotencyKey(_ name: String, _ specJSON: String, base: String) -> String {
        "apply:\(name):\(sha256(base.isEmpty ? specJSON : specJSON + "\n" + base))"
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Fields apply cannot change on an existing cluster (only replicas may grow).
    private static func unchangeable(_ current: ClusterSpec, _ wanted: ClusterSpec) -> [ManifestProblem] {
        func show(_ value: (some Encodable)?) -> String {
            guard let value else { return "none" }
            let text = (try? KajiJSON.string(value)) ?? "?"
            return text.count > 80 ? String(text.prefix(77)) + "..." : text
        }
        var problems: [ManifestProblem] = []
        func compare<T: Equatable & Encodable>(_ field: String, _ a: T?, _ b: T?) {
            guard a != b else { return }
            problems.append(ManifestProblem(field: field, reason: "cannot change on an existing cluster (\(show(a)) → \(show(b))): apply only adds nodes for now; set it back to \(show(a))"))
        }
        compare("zone", current.zone, wanted.zone)
        compare("kubernetesVersion", current.kubernetesVersion, wanted.kubernetesVersion)
        compare("network.subnet", current.network.subnet, wanted.network.subnet)
        compare("network.controlPlaneVIP", current.network.controlPlaneVIP, wanted.network.controlPlaneVIP)
        compare("network.nodeAddressStart", current.network.nodeAddressStart, wanted.network.nodeAddressStart)
        compare("network.loadBalancerRange", current.network.loadBalancerRange, wanted.network.loadBalancerRange)
        compare("network.podSubnet", current.network.podSubnet, wanted.network.podSubnet)
        compare("masters.plan", current.masters.plan, wanted.masters.plan)
        compare("masters.diskGB", current.masters.diskGB, wanted.masters.diskGB)
        compare("workers.plan", current.workers.plan, wanted.workers.plan)
        compare("workers.diskGB", current.workers.diskGB, wanted.workers.diskGB)
        compare("owners.team", current.owners.team, wanted.owners.team)
        if current.owners.sshKeys != wanted.owners.sshKeys {
            problems.append(ManifestProblem(field: "owners.sshKeys", reason: "cannot change on an existing cluster (\(current.owners.sshKeys.count) keys → \(wanted.owners.sshKeys.count) keys): apply only adds nodes for now; keep the keys as they were"))
        }
        compare("velero", current.velero, wanted.velero)
        return problems
    }

    // MARK: - Outlines

    /// The steps of `cluster.provision`, in order (an outline: the workflow's step names may add detail).
    public static func provisionOutline(_ spec: ClusterSpec) -> [String] {
        let nodes = spec.outlineNodes
        let masters = nodes.filter { $0.role == .master }
        let workers = nodes.filter { $0.role == .worker }
        var steps = ["validate-spec",
                     "approval: an operator other than the requester approves (kaji approve RUN)",
                     "create-switch: private switch for \(spec.network.subnet) in \(spec.zone)"]
        steps += nodeCreation(nodes, spec: spec)
        steps.append("ssh-ready: every node answers over SSH")
        if let first = masters.first {
            steps.append("kubeadm-init:\(first.name): kube-vip manifest for \(spec.network.controlPlaneVIP), kubeadm init --control-plane-endpoint \(spec.network.controlPlaneVIP):6443 --upload-certs")
        }
        steps += masters.dropFirst().map { "join-control-plane:\($0.name): kubeadm join --control-plane --certificate-key" }
        steps += workers.map { "join-worker:\($0.name): kubeadm join" }
        steps += ["cni: apply the pod network for \(spec.network.podSubnet ?? ClusterCatalog.defaultPodSubnet)",
                  "readiness: /readyz?verbose all [+], kubectl get nodes: \(nodes.count) Ready",
                  "inventory: record cluster \(spec.name) (ready)",
                  "owner-keys: install \(spec.owners.sshKeys.count) SSH key(s) of team \(spec.owners.team) on every node"]
        return steps
    }

    /// The steps of `cluster.scale-out` from `current` to `spec`: only the missing nodes.
    public static func scaleOutOutline(_ spec: ClusterSpec, from current: ClusterSpec) -> [String] {
        let added = spec.addedNodes(from: current)
        let newMasters = added.filter { $0.role == .master }
        let newWorkers = added.filter { $0.role == .worker }
        let total = spec.masters.replicas + spec.workers.replicas
        var steps = ["validate-spec",
                     "join-material: kubeadm token create --print-join-command\(newMasters.isEmpty ? "" : ", kubeadm init phase upload-certs --upload-certs")"]
        steps += nodeCreation(newMasters + newWorkers, spec: spec)
        steps.append("ssh-ready: the new nodes answer over SSH")
        steps += newMasters.map { "join-control-plane:\($0.name): kubeadm join --control-plane --certificate-key" }
        steps += newWorkers.map { "join-worker:\($0.name): kubeadm join" }
        steps += ["readiness: kubectl get nodes: \(total) Ready",
                  "inventory: record \(spec.masters.replicas) masters, \(spec.workers.replicas) workers",
                  "owner-keys: install the owners' SSH keys on the new nodes"]
        return steps
    }

    private static func nodeCreation(_ nodes: [ClusterSpec.OutlineNode], spec: ClusterSpec) -> [String] {
        nodes.flatMap { node -> [String] in
            let pool = node.role == .master ? spec.masters : spec.workers
            return ["create-server:\(node.name): \(pool.plan.cpu) CPU, \(pool.plan.memoryGB) GB",
                    "create-disk:\(node.name): \(pool.diskGB) GB from the Ubuntu archive, address \(node.address)",
                    "connect-nic:\(node.name)",
                    "power-on:\(node.name)",
                    "wait-up:\(node.name)"]
        }
    }
}
