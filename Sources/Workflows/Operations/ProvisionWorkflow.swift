import Engine
import Foundation
import Provisioner

/// What `cluster.provision` returns.
public struct ProvisionOutput: Codable, Sendable, Equatable {
    public var cluster: String
    /// `https://VIP:6443`.
    public var apiEndpoint: String
    /// The nodes, by name.
    public var nodes: [String]
    /// Who approved the request.
    public var approvedBy: String
}

/// `cluster.provision`: a new cluster from its manifest.
///
/// Steps: wait for an operator's approval (`approval`; the requester cannot approve) → record the cluster
/// as `provisioning` → find the Ubuntu archive → create the private switch → per node, in parallel:
/// `create-server:N`, `create-disk:N` (hostname, owners' and Kaji's keys, address, password login off),
/// `connect-nic:N`, durable `disk-ready:N`, `power-on:N`, durable `server-up:N`, durable `ssh-ready:N` →
/// on the first master `kube-vip:N`, `kubeadm-init:N` (VIP:6443, `--upload-certs`), `kube-vip-admin-conf:N`
/// → `join:N` for the other masters, one at a time, then the workers in parallel, each with join material
/// made fresh inside its step → `apply-cni` → durable `cluster-ready` (`/readyz?verbose` all `[+]`, every
/// node Ready, as many control-plane nodes as masters) → `record-api-ca` (the CA from admin.conf, pinned for
/// the API health checks) → `owner-keys:N` → `record-inventory` (`ready`).
///
/// Cancelling it, or its final failure, tears down what it created (every resource tagged with the run),
/// adopting by tag; `kaji retry` afterwards builds again under fresh step names (see `StepNames`).
public struct ProvisionWorkflow: CompensatingWorkflow {
    public static let kind = ClusterKinds.provision
    /// An operator other than the requester approves.
    public static let approval = ApprovalRule.distinctApprover
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: ProvisionInput) -> String? { input.spec.concurrencyKey }

    let services: ClusterServices
    let settings: ClusterWorkflowSettings

    public init(services: ClusterServices, settings: ClusterWorkflowSettings = ClusterWorkflowSettings()) {
        self.services = services
        self.settings = settings
    }

    public func run(_ input: ProvisionInput, context: WorkflowContext) async throws -> ProvisionOutput {
        let spec = input.spec
        try ClusterSteps.checkSpec(spec, cloud: services.cloud)
        let plan = try NodePlan.nodes(for: spec)
        guard plan.contains(where: { $0.role == .master }) else {
            throw WorkflowError("masters.replicas of cluster \(spec.name) must be at least 1", nonRetryable: true)
        }
        let approval = try await context.waitForApproval(timeout: settings.approvalTimeout, requireDistinctApprover: true)
        let steps = try ClusterSteps(services: services, settings: settings, context: context, spec: spec)
        let inventory = services.inventory, runID = context.runID
        let apiEndpoint = "https://\(spec.network.controlPlaneVIP):6443"
        _ = try await context.step(steps.names("inventory-provisioning")) { step -> Bool in
            let record = ClusterRecord(name: spec.name, zone: spec.zone, spec: spec, state: .provisioning, switchID: nil,
                                       apiEndpoint: apiEndpoint, nodes: [], ownerTeam: spec.owners.team, lastRunID: runID,
                                       createdAt: Date(), updatedAt: Date())
            if let held = try await step.fenced({ try await inventory.on($0).claim(record) }) {
                throw WorkflowError("cluster \(spec.name) is already in the inventory (state \(held)); apply a larger manifest to scale it out, or delete it first", nonRetryable: true)
            }
            return true
        }
        let archiveID = try await steps.findArchive()
        let switchID = try await steps.createSwitch()
        let built = try await context.parallel(plan) { node in
            try await steps.build(node, switchID: switchID, archiveID: archiveID)
        }
        guard let first = built.first(where: { $0.plan.role == .master }) else {
            throw WorkflowError("no master in the plan of \(spec.name)", nonRetryable: true)
        }
        _ = try await steps.initFirstMaster(first)
        try await steps.joinAll(built.filter { $0.name != first.name }, via: first.endpoint)
        try await steps.applyCNI(on: first.endpoint)
        _ = try await steps.waitReady(on: first.endpoint, expected: Set(plan.map(\.name)), masters: spec.masters.replicas, step: "cluster-ready")
        _ = try await steps.recordClusterCA(on: first.endpoint)
        _ = try await context.parallel(built) { node in
            try await steps.installOwnerKeys(on: node)
        }
        _ = try await context.step(steps.names("record-inventory")) { step -> Bool in
            let record = ClusterRecord(name: spec.name, zone: spec.zone, spec: spec, state: .ready, switchID: switchID,
                                       apiEndpoint: apiEndpoint, nodes: built.map(\.inventoryNode), ownerTeam: spec.owners.team,
                                       lastRunID: runID, createdAt: Date(), updatedAt: Date())
            try await step.fenced { try await inventory.on($0).upsert(record) }
            return true
        }
        return ProvisionOutput(cluster: spec.name, apiEndpoint: apiEndpoint, nodes: built.map(\.name), approvedBy: approval.approver)
    }

    /// Tears down every server, disk and switch this run created (found by its `kaji-run` tag, whatever
    /// the steps recorded), then marks the cluster `deleted` if this run recorded it. Nothing can exist
    /// before the approval, so a run cancelled while waiting for it has nothing to undo.
    public func compensate(_ input: ProvisionInput, context: WorkflowContext) async throws {
        guard try context.result(of: "approval", as: IgnoredResult.self) != nil else { return }
        let spec = input.spec
        let names = try StepNames(context: context)
        _ = try await Teardown(cloud: services.cloud, knownHosts: services.ssh.configuration.knownHosts, settings: settings, context: context,
                               tags: [ClusterTags.cluster(spec.name), ClusterTags.run(context.runID)], prefix: names("undo")).run()
        let inventory = services.inventory, runID = context.runID
        _ = try await context.step(names.teardownDone) { step -> Bool in
            _ = try await step.fenced { connection in
                try await inventory.on(connection).transition(spec.name, from: [.provisioning, .ready, .scaling, .deleting, .failed], heldBy: runID,
                                                              to: .deleted, runID: runID)
            }
            return true
        }
    }
}
