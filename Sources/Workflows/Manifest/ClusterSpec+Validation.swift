import Engine
import Foundation

extension ClusterSpec {
    /// Every problem with this spec, in field order (empty when it is valid). Cross-field checks (addresses
    /// inside the subnet, ranges that must not overlap) are made only when the fields they read are sound.
    public func problems() -> [ManifestProblem] {
        var validator = ClusterSpecValidator(spec: self, broken: [])
        return validator.run()
    }
}

/// The semantic checks of a manifest. `broken` holds paths the YAML reader could not read (already
/// reported); checks that read them are skipped.
struct ClusterSpecValidator {
    let spec: ClusterSpec
    let broken: Set<String>
    private var problems: [ManifestProblem] = []
    /// Paths found wrong here; later cross-field checks that read them are skipped.
    private var wrong: Set<String> = []

    init(spec: ClusterSpec, broken: Set<String>) {
        self.spec = spec
        self.broken = broken
    }

    /// Whether none of `paths` (nor a parent or child of them) is broken or already wrong.
    private func sound(_ paths: String...) -> Bool {
        let bad = broken.union(wrong)
        return paths.allSatisfy { path in
            !bad.contains { $0 == path || $0.hasPrefix(path + ".") || $0.hasPrefix(path + "[") || path.hasPrefix($0 + ".") }
        }
    }

    private mutating func add(_ field: String, _ reason: String) {
        problems.append(ManifestProblem(field: field, reason: reason))
        wrong.insert(field)
    }

    /// `a, b or c`.
    static func list(_ items: [String], or word: String = "or") -> String {
        guard items.count > 1, let last = items.last else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " \(word) " + last
    }

    /// A value as messages show it: quoted, at most 60 characters.
    static func quote(_ text: String) -> String {
        text.count > 60 ? "\"\(text.prefix(57))...\"" : "\"\(text)\""
    }

    static let dnsName = "1-40 of a-z, 0-9 and '-', starting with a letter and not ending with '-'"

    static func isDNSName(_ text: String, maxLength: Int = 40) -> Bool {
        guard let first = text.first, let last = text.last, text.count <= maxLength else { return false }
        return first.isASCII && first.isLowercase && last != "-"
            && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    mutating func run() -> [ManifestProblem] {
        if sound("name"), !Self.isDNSName(spec.name) {
            add("name", "must be DNS-safe (\(Self.dnsName)), got \(Self.quote(spec.name))")
        }
        if sound("zone"), !ClusterCatalog.zones.contains(spec.zone) {
            add("zone", "must be one of \(Self.list(ClusterCatalog.zones)), got \(Self.quote(spec.zone))")
        }
        if sound("kubernetesVersion"), !Self.isVersion(spec.kubernetesVersion) {
            add("kubernetesVersion", "must be a Kubernetes release MAJOR.MINOR.PATCH like 1.30.2 (quote it in YAML), got \(Self.quote(spec.kubernetesVersion))")
        }
        checkNetwork()
        checkPool("masters", spec.masters)
        checkPool("workers", spec.workers)
        checkOwners()
        checkVelero()
        if sound("healthCheck.interval"), let interval = spec.healthCheck?.interval, let problem = HealthCheckInterval.problem(interval) {
            add("healthCheck.interval", problem)
        }
        return problems
    }

    static func isVersion(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[0] == "1"
            && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && ($0 == "0" || !$0.hasPrefix("0")) }
    }

    // MARK: - Network

    private mutating func checkNetwork() {
        let n = spec.network
        var subnet: IPv4CIDR?
        if sound("network.subnet") {
            switch IPv4CIDR.parse(n.subnet) {
            case .failure(.syntax):
                add("network.subnet", "must be an IPv4 CIDR like 192.168.100.0/24, got \(Self.quote(n.subnet))")
            case .failure(.hostBitsSet(let suggestion)):
                add("network.subnet", "has host bits set: did you mean \(suggestion)? got \(Self.quote(n.subnet))")
            case .success(let network):
                if !(16...28).contains(network.prefix) {
                    add("network.subnet", "must have a prefix from /16 to /28 (room for nodes, VIP and LoadBalancer addresses), got /\(network.prefix)")
                } else if !network.isPrivate {
                    add("network.subnet", "must be a private range (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16), got \(network)")
                } else if let service = IPv4CIDR(ClusterCatalog.serviceSubnet), network.overlaps(service) {
                    add("network.subnet", "overlaps Kubernetes' service range \(ClusterCatalog.serviceSubnet): pick another range, e.g. 192.168.100.0/24")
                } else {
                    subnet = network
                }
            }
        }
        let hosts = subnet?.hosts
        func inside(_ ip: IPv4) -> Bool { hosts?.contains(ip) ?? false }
        let hostText = hosts.map { "\($0.rangeDescription)" } ?? ""

        var vip: IPv4?
        if sound("network.controlPlaneVIP") {
            if let address = IPv4(n.controlPlaneVIP) {
                if let subnet, !inside(address) {
                    add("network.controlPlaneVIP", "must be inside network.subnet \(subnet) (\(hostText)), got \(address)")
                } else {
                    vip = address
                }
            } else {
                add("network.controlPlaneVIP", "must be an IPv4 address like 192.168.100.10, got \(Self.quote(n.controlPlaneVIP))")
            }
        }

        var nodes: ClosedRange<IPv4>?
        let count = spec.masters.replicas + spec.workers.replicas
        if sound("network.nodeAddressStart") {
            if let start = IPv4(n.nodeAddressStart) {
                if let subnet, !inside(start) {
                    add("network.nodeAddressStart", "must be inside network.subnet \(subnet) (\(hostText)), got \(start)")
                } else if subnet != nil, sound("masters.replicas", "workers.replicas"), count > 0 {
                    if let range = spec.nodeAddressRange, inside(range.upperBound) {
                        nodes = range
                    } else if let hosts {
                        let latest = hosts.upperBound.advanced(by: -(count - 1)).map(\.description) ?? "-"
                        add("network.nodeAddressStart", "the \(count) nodes (masters then workers) need \(count) consecutive addresses from \(start), which run past the subnet's last host \(hosts.upperBound): start at \(latest) or lower")
                    }
                }
            } else {
                add("network.nodeAddressStart", "must be an IPv4 address like 192.168.100.11, got \(Self.quote(n.nodeAddressStart))")
            }
        }
        let nodesText = nodes.map { "the nodes' addresses \($0.rangeDescription) (\(count) nodes, masters then workers, from network.nodeAddressStart)" } ?? ""

        if sound("network.loadBalancerRange") {
            if let range = spec.loadBalancerAddresses {
                if let subnet, !(inside(range.lowerBound) && inside(range.upperBound)) {
                    add("network.loadBalancerRange", "must be inside network.subnet \(subnet) (\(hostText)), got \(range.rangeDescription)")
                } else if let nodes, range.overlaps(nodes) {
                    add("network.loadBalancerRange", "\(range.rangeDescription) overlaps \(nodesText): move it past \(nodes.upperBound)")
                } else if let vip, range.contains(vip) {
                    add("network.loadBalancerRange", "\(range.rangeDescription) contains network.controlPlaneVIP \(vip): keep the VIP out of it")
                }
            } else {
                add("network.loadBalancerRange", "must be FIRST-LAST addresses like 192.168.100.200-192.168.100.220 (first not after last), got \(Self.quote(n.loadBalancerRange))")
            }
        }
        if let vip, let nodes, nodes.contains(vip) {
            add("network.controlPlaneVIP", "\(vip) is one of \(nodesText): pick an address outside \(nodes.rangeDescription)")
        }

        if sound("network.podSubnet"), let pod = n.podSubnet {
            switch IPv4CIDR.parse(pod) {
            case .failure(.syntax):
                add("network.podSubnet", "must be an IPv4 CIDR like \(ClusterCatalog.defaultPodSubnet), got \(Self.quote(pod))")
            case .failure(.hostBitsSet(let suggestion)):
                add("network.podSubnet", "has host bits set: did you mean \(suggestion)? got \(Self.quote(pod))")
            case .success(let network):
                if network.prefix > 24 {
                    add("network.podSubnet", "must have a prefix of /24 or shorter (each node takes a /24), got /\(network.prefix)")
                } else if let subnet, network.overlaps(subnet) {
                    add("network.podSubnet", "\(network) overlaps network.subnet \(subnet): use a separate range like \(ClusterCatalog.defaultPodSubnet)")
                } else if let service = IPv4CIDR(ClusterCatalog.serviceSubnet), network.overlaps(service) {
                    add("network.podSubnet", "\(network) overlaps Kubernetes' service range \(ClusterCatalog.serviceSubnet): use e.g. \(ClusterCatalog.defaultPodSubnet)")
                }
            }
        }
    }

    // MARK: - Node pools

    private mutating func checkPool(_ role: String, _ pool: ClusterSpec.NodePool) {
        let isMaster = role == "masters"
        if sound("\(role).replicas") {
            if isMaster, !ClusterCatalog.masterReplicas.contains(pool.replicas) {
                add("masters.replicas", "must be odd (1, 3, 5 or 7), got \(pool.replicas)")
            } else if !isMaster, !ClusterCatalog.workerReplicas.contains(pool.replicas) {
                add("workers.replicas", "must be from \(ClusterCatalog.workerReplicas.lowerBound) to \(ClusterCatalog.workerReplicas.upperBound), got \(pool.replicas)")
            }
        }
        let cpu = pool.plan.cpu, memory = pool.plan.memoryGB
        if sound("\(role).plan.cpu") {
            if !ClusterCatalog.planCPUs.contains(cpu) {
                add("\(role).plan.cpu", "must be \(Self.list(ClusterCatalog.planCPUs.map(String.init))) (the CPU cores of a plan), got \(cpu)")
            } else if isMaster, cpu < ClusterCatalog.minimumMasterCPU {
                add("masters.plan.cpu", "must be at least \(ClusterCatalog.minimumMasterCPU): control-plane nodes need 2 CPUs (kubeadm), got \(cpu)")
            } else if sound("\(role).plan.memoryGB"), !ClusterCatalog.isPlan(cpu: cpu, memoryGB: memory) {
                let offered = Self.list(ClusterCatalog.planMemoryGB(cpu: cpu).map(String.init))
                add("\(role).plan.memoryGB", "no plan has \(cpu) CPU with \(memory) GB: \(cpu) CPU comes with \(offered) GB")
            }
        }
        if sound("\(role).plan.memoryGB", "\(role).plan.cpu"), isMaster, ClusterCatalog.planCPUs.contains(cpu),
           ClusterCatalog.isPlan(cpu: cpu, memoryGB: memory), memory < ClusterCatalog.minimumMasterMemoryGB {
            add("masters.plan.memoryGB", "must be at least \(ClusterCatalog.minimumMasterMemoryGB): control-plane nodes need 2 GB (kubeadm), got \(memory)")
        }
        if sound("\(role).diskGB"), !ClusterCatalog.diskSizesGB.contains(pool.diskGB) {
            add("\(role).diskGB", "must be a disk size SAKURA Cloud offers: \(Self.list(ClusterCatalog.diskSizesGB.map(String.init))) (GB), got \(pool.diskGB)")
        }
    }

    // MARK: - Owners

    private mutating func checkOwners() {
        if sound("owners.team"), !Self.isDNSName(spec.owners.team) {
            add("owners.team", "must be a team name (\(Self.dnsName)), got \(Self.quote(spec.owners.team))")
        }
        // A missing or mistyped list was reported by the reader; single bad items are skipped below.
        if broken.contains("owners.sshKeys") || broken.contains("owners") { return }
        if spec.owners.sshKeys.isEmpty {
            add("owners.sshKeys", "must list at least one OpenSSH public key (the owners log in to the nodes with it), e.g. - ssh-ed25519 AAAA… alice@laptop")
            return
        }
        var seen: [Data: Int] = [:]
        for (index, line) in spec.owners.sshKeys.enumerated() {
            let path = "owners.sshKeys[\(index)]"
            guard sound(path) else { continue }
            switch OpenSSHPublicKey.parse(line) {
            case .failure(let problem):
                add(path, problem.description)
            case .success(let key):
                if let first = seen[key.blob] {
                    add(path, "is the same key as owners.sshKeys[\(first)]: list each key once")
                } else {
                    seen[key.blob] = index
                }
            }
        }
    }

    // MARK: - Velero

    private mutating func checkVelero() {
        guard let velero = spec.velero, sound("velero") else { return }
        let location = velero.storageLocation
        if sound("velero.storageLocation"), !Self.isDNSName(location, maxLength: 63) {
            add("velero.storageLocation", "must be the name of a Velero BackupStorageLocation (1-63 of a-z, 0-9 and '-', starting with a letter), got \(Self.quote(location))")
        }
        if sound("velero.schedule"), let schedule = velero.schedule, let problem = VeleroSyntax.scheduleProblem(schedule) {
            add("velero.schedule", problem)
        }
        if sound("velero.ttl"), let ttl = velero.ttl, let problem = VeleroSyntax.ttlProblem(ttl) {
            add("velero.ttl", problem)
        }
    }
}
