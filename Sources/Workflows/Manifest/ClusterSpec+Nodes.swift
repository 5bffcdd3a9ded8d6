import Foundation

/// Addresses a manifest implies, for validation and the `--dry-run` outline. Nodes take consecutive
/// addresses from `network.nodeAddressStart`: masters, then workers; on a scale-out, existing nodes keep
/// theirs and new nodes take the next free ones (the provisioning workflows allocate the same way).
extension ClusterSpec {
    /// A node as the outline shows it: `NAME-master-N` / `NAME-worker-N` and its address.
    struct OutlineNode: Equatable {
        var name: String
        var role: ClusterNode.Role
        var index: Int
        var address: String
    }

    /// The nodes of a new cluster, masters then workers on consecutive addresses (empty when the start is
    /// not an address).
    var outlineNodes: [OutlineNode] {
        addedNodes(from: nil)
    }

    /// The nodes a scale-out from `current` adds: masters `current.masters.replicas + 1...`, then workers,
    /// on the addresses after the current `masters + workers` block. `nil`: a new cluster, all nodes.
    func addedNodes(from current: ClusterSpec?) -> [OutlineNode] {
        guard let start = IPv4(network.nodeAddressStart) else { return [] }
        let haveMasters = current?.masters.replicas ?? 0, haveWorkers = current?.workers.replicas ?? 0
        var offset = haveMasters + haveWorkers
        var nodes: [OutlineNode] = []
        for (role, from, to) in [(ClusterNode.Role.master, haveMasters, masters.replicas), (.worker, haveWorkers, workers.replicas)] where to > from {
            for index in (from + 1)...to {
                guard let address = start.advanced(by: offset) else { return nodes }
                nodes.append(OutlineNode(name: "\(name)-\(role.rawValue)-\(index)", role: role, index: index, address: address.description))
                offset += 1
            }
        }
        return nodes
    }

    /// The nodes' address range: `masters + workers` addresses from `network.nodeAddressStart`; nil when the
    /// start is not an address, there are no nodes, or the range runs past 255.255.255.255.
    var nodeAddressRange: ClosedRange<IPv4>? {
        let count = masters.replicas + workers.replicas
        guard count > 0, let start = IPv4(network.nodeAddressStart), let end = start.advanced(by: count - 1) else { return nil }
        return start...end
    }

    /// `network.loadBalancerRange` as addresses, nil when it is not `A-B` with A <= B.
    var loadBalancerAddresses: ClosedRange<IPv4>? {
        let parts = network.loadBalancerRange.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4(String(parts[0]).trimmingCharacters(in: .whitespaces)),
              let b = IPv4(String(parts[1]).trimmingCharacters(in: .whitespaces)), a <= b else { return nil }
        return a...b
    }
}
