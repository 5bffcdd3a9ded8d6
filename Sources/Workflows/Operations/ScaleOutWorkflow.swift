import Engine
import Foundation
import Provisioner

/// What `cluster.scale-out` returns.
public struct ScaleOutOutput: Codable, Sendable, Equatable {
    public var cluster: String
    /// The nodes created and joined by this run (empty when the cluster already had them all).
    public var added: [String]
    /// Every node of the cluster afterwards.
    public var nodes: [String]
}

/// What the inventory said when a scale-out started.
struct ScaleOutStart: Codable, Sendable {
    var nodes: [ClusterNode]
    var switchID: String
}

/// `cluster.scale-out`: raises masters and/or workers to the manifest's replicas.
///
/// Steps: `read-inventory` → mark `scaling` → find the archive → per missing node, in parallel, the same
/// create/power/wait steps as provisioning → `join:N` through an existing master with fresh join material
/// (`kubeadm token create --print-join-command`, plus `kubeadm init phase upload-certs --upload-certs` for
/// masters, made inside the join step and never stored); masters one at a time, workers in parallel →
/// durable `cluster-ready` → `owner-keys:N` → `record-inventory` (`ready`, with the new nodes). Only the
/// missing nodes are touched; shrinking is refused.
///
/// Cancelling it, or its final failure, tears down the nodes it created (tagged with its run) and leaves the
/// cluster `ready` with its earlier nodes.
public struct ScaleOutWorkflow: CompensatingWorkflow {
    public static let kind = ClusterKinds.scaleOut
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: ScaleOutInput) -> String? { input.spec.concurrencyKey }

    let services: ClusterServices
    let settings: ClusterWorkflowSettings

    public init(services: ClusterServices, settings: ClusterWorkflowSettings = ClusterWorkflowSettings()) {
        self.services = services
        self.settings = settings
    }

    public func run(_ input: ScaleOutInput, context: WorkflowContext) async throws -> ScaleOutOutput {
        let spec = input.spec
        try ClusterSteps.checkSpec(spec, cloud: services.cloud)
        let inventory = services.inventory, runID = context.runID
        let start = try await context.step("read-inventory") { _ -> ScaleOutStart in
            guard let record = try await inventory.get(spec.name) else {
                throw WorkflowError("cluster \(spec.name) is not in the inventory: provision it first (kaji apply)", nonRetryable: true)
            }
            guard record.clusterState == .ready || (record.clusterState == .scaling && record.lastRunID == runID) else {
                throw WorkflowError("cluster \(spec.name) is \(record.state); only a ready cluster can be scaled out", nonRetryable: true)
            }
            guard let switchID = record.switchID else {
                throw WorkflowError("cluster \(spec.name) has no switch in the inventory", nonRetryable: true)
            }
            return ScaleOutStart(nodes: record.nodes, switchID: switchID)
        }
        for role in [ClusterNode.Role.master, .worker] {
            let have = start.nodes.filter { $0.role == role }.count
            let want = role == .master ? spec.masters.replicas : spec.workers.replicas
            guard want >= have else {
                let field = role == .master ? "masters.replicas" : "workers.replicas"
                throw WorkflowError("\(field) \(want) is less than the \(have) \(role.rawValue)s cluster \(spec.name) has: shrinking is not supported", nonRetryable: true)
            }
        }
        let missing = try NodePlan.missing(for: spec, existing: start.nodes)
        let allNames = start.nodes.map(\.name) + missing.map(\.name)
        guard !missing.isEmpty else {
            return ScaleOutOutput(cluster: spec.name, added: [], nodes: allNames)
        }
        guard let master = start.nodes.first(where: { $0.role == .master }) else {
            throw WorkflowError("cluster \(spec.name) has no master in the inventory to join new nodes through", nonRetryable: true)
        }
        let steps = try ClusterSteps(services: services, settings: settings, context: context, spec: spec)
        _ = try await context.step(steps.names("inventory-scaling")) { step -> Bool in
            // Only a ready cluster (or one this run already marked) moves to scaling, checked and written in
            // one statement under the run's fence.
            let state = try await step.fenced { connection -> String? in
                let records = inventory.on(connection)
                if try await records.transition(spec.name, from: [.ready], to: .scaling, runID: runID) { return nil }
                if try await records.transition(spec.name, from: [.scaling], heldBy: runID, to: .scaling, runID: runID) { return nil }
                return try await records.get(spec.name)?.state ?? "gone from the inventory"
            }
            if let state {
                throw WorkflowError("cluster \(spec.name) is \(state); only a ready cluster can be scaled out", nonRetryable: true)
            }
            return true
        }
        let archiveID = try await steps.findArchive()
        let built = try await context.parallel(missing) { node in
            try await steps.build(node, switchID: start.switchID, archiveID: archiveID)
        }
        try await steps.joinAll(built, via: NodeEndpoint(master))
        _ = try await steps.waitReady(on: NodeEndpoint(master), expected: Set(allNames), masters: spec.masters.replicas, step: "cluster-ready")
        _ = try await context.parallel(built) { node in
            try await steps.installOwnerKeys(on: node)
        }
        _ = try await context.step(steps.names("record-inventory")) { step -> Bool in
            // One statement adds the new nodes to whatever the record holds now (no read-modify-write).
            let added = built.map(\.inventoryNode)
            guard try await step.fenced({ try await inventory.on($0).addNodes(spec.name, nodes: added, spec: spec, state: .ready, runID: runID) }) else {
                throw WorkflowError("cluster \(spec.name) disappeared from the inventory during the scale-out", nonRetryable: true)
            }
            return true
        }
        return ScaleOutOutput(cluster: spec.name, added: built.map(\.name), nodes: allNames)
    }

    /// Takes the nodes this run added out of the cluster first, one at a time and newest first (workers,
    /// then masters): `kubectl drain`, for a master `kubeadm reset phase remove-etcd-member` on the node
    /// itself, then `kubectl delete node`, each as its own step (`undo-leave:NODE`), so that etcd shrinks a
    /// member at a time and never loses quorum (undoing 1→3 masters leaves one member, not one of three).
    /// Then tears down the servers and disks this run created (its `kaji-run` tag) and puts the cluster
    /// back to `ready` with its earlier nodes.
    public func compensate(_ input: ScaleOutInput, context: WorkflowContext) async throws {
        guard let start = try context.result(of: "read-inventory", as: ScaleOutStart.self) else { return }
        let spec = input.spec
        let names = try StepNames(context: context)
        if let master = start.nodes.first(where: { $0.role == .master }) {
            let steps = try ClusterSteps(services: services, settings: settings, context: context, spec: spec)
            let added = (try? NodePlan.missing(for: spec, existing: start.nodes)) ?? []
            let order = Array(added.filter { $0.role == .worker }.reversed()) + Array(added.filter { $0.role == .master }.reversed())
            for node in order {
                let endpoint = try context.result(of: names("server-up", node.name), as: NodeEndpoint.self)
                try await steps.leave(node, endpoint: endpoint, via: NodeEndpoint(master), step: names("undo-leave", node.name))
            }
        }
        _ = try await Teardown(cloud: services.cloud, knownHosts: services.ssh.configuration.knownHosts, settings: settings, context: context,
                               tags: [ClusterTags.cluster(spec.name), ClusterTags.run(context.runID)], prefix: names("undo")).run()
        let inventory = services.inventory, runID = context.runID
        _ = try await context.step(names.teardownDone) { step -> Bool in
            _ = try await step.fenced { connection in
                try await inventory.on(connection).transition(spec.name, from: [.scaling], heldBy: runID, to: .ready, runID: runID)
            }
            return true
        }
    }
}
