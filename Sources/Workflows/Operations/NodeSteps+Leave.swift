import Engine
import Foundation
import Provisioner

/// What `leave` did to one node.
struct LeaveResult: Codable, Sendable, Equatable {
    /// The node was in the cluster (`kubectl get nodes` listed it) and was drained and deleted.
    var wasMember: Bool
    /// Its etcd member was removed (control-plane nodes only).
    var removedEtcdMember: Bool
}

extension ClusterSteps {
    /// Takes a node out of the cluster through `master` before its server goes: drains it, removes its
    /// etcd member when it is a control-plane node (`kubeadm reset phase remove-etcd-member` on the node
    /// itself, which needs it still up), then deletes the Node object. One step; skipped when the node is not
    /// in the cluster (it never joined, or an earlier attempt already removed it).
    func leave(_ node: PlannedNode, endpoint: NodeEndpoint?, via master: NodeEndpoint, step: String) async throws {
        let drain = Self.kubectl(Kubectl.drainCommand(node: node.name))
        let delete = Self.kubectl(Kubectl.deleteNodeCommand(node: node.name))
        let isMaster = node.role == .master
        _ = try await context.step(step, retry: settings.nodeRetry) { _ -> LeaveResult in
            guard let nodes = try await listNodes(on: master) else {
                throw WorkflowError("`kubectl get nodes` failed on \(master.ssh): cannot take \(node.name) out of the cluster")
            }
            guard nodes.contains(where: { $0.name == node.name }) else {
                return LeaveResult(wasMember: false, removedEtcdMember: false)
            }
            _ = try await exec(drain, on: master, deadline: settings.nodeCommandDeadline)
            var removed = false
            if isMaster {
                guard let endpoint else {
                    throw WorkflowError("control-plane node \(node.name) is in the cluster but its SSH address is unknown: remove its etcd member by hand (etcdctl member remove)", nonRetryable: true)
                }
                _ = try await exec(Kubeadm.removeEtcdMemberCommand, on: endpoint, deadline: settings.nodeCommandDeadline)
                removed = true
            }
            _ = try await exec(delete, on: master)
            return LeaveResult(wasMember: true, removedEtcdMember: removed)
        }
    }
}
