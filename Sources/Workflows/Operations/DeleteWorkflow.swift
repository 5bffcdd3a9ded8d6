import Engine
import Foundation
import Provisioner

/// The input of `cluster.delete`.
public struct DeleteInput: Codable, Sendable, Equatable {
    /// The cluster's name, e.g. `prod-a`.
    public var name: String

    public init(name: String) {
        self.name = name
    }
}

/// What `cluster.delete` removed.
public struct DeleteOutput: Codable, Sendable, Equatable {
    public var cluster: String
    public var servers: Int
    public var disks: Int
    public var switches: Int
    public var approvedBy: String
}

/// `cluster.delete`: tears a cluster down after an operator's approval.
///
/// Steps: `read-inventory` → `approval` (the requester cannot approve) → mark `deleting` → teardown of
/// everything tagged `kaji-cluster=<name>`, in reverse order (`delete:power-off`, `delete:servers-down`,
/// `delete:delete-servers` with their disks, `delete:delete-disks` for leftovers, `delete:delete-switch`),
/// adopting whatever exists, also resources the inventory never heard of → mark `deleted`.
public struct DeleteWorkflow: Workflow {
    public static let kind = ClusterKinds.delete
    /// An operator other than the requester approves.
    public static let approval = ApprovalRule.distinctApprover
    /// `cluster:NAME`, the key `kaji apply` uses: no two operations on one cluster overlap.
    public static func concurrencyKey(for input: DeleteInput) -> String? { "cluster:\(input.name)" }

    let services: ClusterServices
    let settings: ClusterWorkflowSettings

    public init(services: ClusterServices, settings: ClusterWorkflowSettings = ClusterWorkflowSettings()) {
        self.services = services
        self.settings = settings
    }

    public func run(_ input: DeleteInput, context: WorkflowContext) async throws -> DeleteOutput {
        let name = input.name
        guard !name.isEmpty, name.count <= 63, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw WorkflowError("name '\(name)' is not a cluster name (1-63 of a-z, 0-9, -)", nonRetryable: true)
        }
        let inventory = services.inventory, zone = services.cloud.zone
        let known = try await context.step("read-inventory") { _ -> Bool in
            guard let record = try await inventory.get(name) else { return false }
            guard record.zone == zone else {
                throw WorkflowError("cluster \(name) is in zone \(record.zone), but this worker's SAKURA Cloud client serves \(zone)", nonRetryable: true)
            }
            return true
        }
        let approval = try await context.waitForApproval(timeout: settings.approvalTimeout, requireDistinctApprover: true)
        let runID = context.runID
        if known {
            _ = try await context.step("inventory-deleting") { step -> Bool in
                try await step.fenced { try await inventory.on($0).setState(name, state: .deleting, runID: runID) }
                return true
            }
        }
        let removed = try await Teardown(cloud: services.cloud, knownHosts: services.ssh.configuration.knownHosts, settings: settings, context: context,
                                         tags: [ClusterTags.cluster(name)], prefix: "delete").run()
        if known {
            _ = try await context.step("inventory-deleted") { step -> Bool in
                try await step.fenced { try await inventory.on($0).setState(name, state: .deleted, runID: runID) }
                return true
            }
        }
        return DeleteOutput(cluster: name, servers: removed.servers, disks: removed.disks, switches: removed.switches, approvedBy: approval.approver)
    }
}
