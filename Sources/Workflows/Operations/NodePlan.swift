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
        let subnet = try IPv4Subnet(parsing: spec.network.subnet, field: "network.subnet")
        let start = try IPv4Address(parsing: spec.network.nodeAddressStart, field: "network.nodeAddressStart")
        let vip = try IPv4Address(parsing: spec.network.controlPlaneVIP, field: "network.controlPlaneVIP")
        guard subnet.contains(start) else {
            throw WorkflowError("network.nodeAddressStart \(start) is outside network.subnet \(subnet)", nonRetryable: true)
        }
        let known = Dictionary(existing.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var used = Set(try existing.map { try IPv4Address(parsing: $0.address, field: "inventory node \($0.name) address").value })
        used.insert(vip.value)
        var next = start.value
        func allocate() throws -> String {
            while used.contains(next) { next += 1 }
            guard subnet.isHost(next) else {
                throw WorkflowError("network.subnet \(subnet) has no free address left for another node (from network.nodeAddressStart \(start))", nonRetryable: true)
            }
            used.insert(next)
            return IPv4Address(value: next).description
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

/// An IPv4 address as a 32-bit number.
struct IPv4Address: Sendable, Hashable, CustomStringConvertible {
    var value: UInt32

    init(value: UInt32) {
        self.value = value
    }

    init(parsing text: String, field: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else {
            throw WorkflowError("\(field) '\(text)' is not an IPv4 address (expected e.g. 192.168.100.11)", nonRetryable: true)
        }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else {
                throw WorkflowError("\(field) '\(text)' is not an IPv4 address (expected e.g. 192.168.100.11)", nonRetryable: true)
            }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    var description: String {
        [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}

/// An IPv4 subnet in CIDR form, e.g. `192.168.100.0/24`.
struct IPv4Subnet: Sendable, CustomStringConvertible {
    var network: UInt32
    var prefixLength: Int

    init(parsing text: String, field: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (8...30).contains(length) else {
            throw WorkflowError("\(field) '\(text)' is not a CIDR subnet with a prefix of 8-30 (expected e.g. 192.168.100.0/24)", nonRetryable: true)
        }
        let address = try IPv4Address(parsing: String(parts[0]), field: field)
        prefixLength = length
        network = address.value & Self.mask(length)
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    func contains(_ address: IPv4Address) -> Bool { address.value & Self.mask(prefixLength) == network }

    /// Inside the subnet and neither its network nor its broadcast address.
    func isHost(_ value: UInt32) -> Bool {
        let broadcast = network | ~Self.mask(prefixLength)
        return value & Self.mask(prefixLength) == network && value != network && value != broadcast
    }

    var description: String { "\(IPv4Address(value: network))/\(prefixLength)" }
}
