import Engine
import Foundation

/// One node a cluster should have: its stable name, role and private address on the cluster switch.
public struct PlannedNode: Codable, Sendable, Equatable {
    /// `<cluster>-master-<n>` or `<cluster>-worker-<n>`, n from 1.
    public var name: String
    public var role: ClusterNode.Role
    /// 1-based position within its role.
    public var ordinal: Int
    /// The node's address on the private switch.
    public var address: String

    public init(name: String, role: ClusterNode.Role, ordinal: Int, address: String) {
        self.name = name
        self.role = role
        self.ordinal = ordinal
        self.address = address
    }
}

/// The nodes a manifest asks for, named and addressed.
///
/// Names are `<cluster>-master-1…` and `<cluster>-worker-1…`. Addresses come from
/// `network.nodeAddressStart` upwards, skipping the control-plane VIP and every address a node the
/// inventory already knows holds, so a scale-out never moves an existing node: a new cluster gets
/// masters first, then workers, on consecutive addresses.
public enum NodePlan {
    /// The name of node `ordinal` (from 1) of `role` in `cluster`.
    public static func name(cluster: String, role: ClusterNode.Role, ordinal: Int) -> String {
        "\(cluster)-\(role.rawValue)-\(ordinal)"
    }

    /// Every node `spec` asks for. Nodes in `existing` (by name) keep their addresses; the others get the
    /// lowest free addresses inside `network.subnet`.
    /// - Throws: a non-retryable `WorkflowError` naming the field when an address does not parse or the
    ///   subnet runs out.
    public static func nodes(for spec: ClusterSpec, existing: [ClusterNode] = []) throws -> [PlannedNode] {
        let subnet = try IPv4CIDR(parsing: spec.network.subnet, field: "network.subnet")
        let start = try IPv4(parsing: spec.network.nodeAddressStart, field: "network.nodeAddressStart")
        let vip = try IPv4(parsing: spec.network.controlPlaneVIP, field: "network.controlPlaneVIP")
        guard subnet.contains(start) else {
            throw WorkflowError("network.nodeAddressStart \(start) is outside network.subnet \(subnet)", nonRetryable: true)
        }
        let known = Dictionary(existing.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var used = Set(try existing.map { try IPv4(parsing: $0.address, field: "inventory node \($0.name) address").value })
        used.insert(vip.value)
        var next = start.value
        func allocate() throws -> String {
            while used.contains(next) { next &+= 1 }
            guard let hosts = subnet.hosts, hosts.contains(IPv4(value: next)) else {
                throw WorkflowError("network.subnet \(subnet) has no free address left for another node (from network.nodeAddressStart \(start))", nonRetryable: true)
            }
            used.insert(next)
            return IPv4(value: next).description
        }
        var nodes: [PlannedNode] = []
        for (role, replicas) in [(ClusterNode.Role.master, spec.masters.replicas), (.worker, spec.workers.replicas)] {
            for ordinal in stride(from: 1, through: replicas, by: 1) {
                let name = name(cluster: spec.name, role: role, ordinal: ordinal)
                let address = try known[name]?.address ?? allocate()
                nodes.append(PlannedNode(name: name, role: role, ordinal: ordinal, address: address))
            }
        }
        return nodes
    }

    /// The nodes of `spec` that `existing` lacks (scale-out), in plan order.
    public static func missing(for spec: ClusterSpec, existing: [ClusterNode]) throws -> [PlannedNode] {
        let names = Set(existing.map(\.name))
        return try nodes(for: spec, existing: existing).filter { !names.contains($0.name) }
    }
}

extension IPv4 {
    /// Parses `text`, or throws a non-retryable error naming `field`.
    init(parsing text: String, field: String) throws {
        guard let address = IPv4(text) else {
            throw WorkflowError("\(field) '\(text)' is not an IPv4 address (expected e.g. 192.168.100.11)", nonRetryable: true)
        }
        self = address
    }
}

extension IPv4CIDR {
    /// Parses `text`, or throws a non-retryable error naming `field`.
    init(parsing text: String, field: String) throws {
        guard let network = IPv4CIDR(text), network.hosts != nil else {
            throw WorkflowError("\(field) '\(text)' is not a CIDR subnet with host addresses (expected e.g. 192.168.100.0/24)", nonRetryable: true)
        }
        self = network
    }
}
