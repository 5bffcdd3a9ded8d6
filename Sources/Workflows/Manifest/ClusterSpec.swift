import Foundation

/// A cluster manifest (`kind: Cluster`, YAML): what the owner wants. `kaji validate` checks it, `kaji apply`
/// turns the difference from the inventory into runs. Field names are the YAML keys.
public struct ClusterSpec: Codable, Sendable, Equatable {
    /// DNS-safe cluster name (1-40 of a-z, 0-9, -), e.g. `prod-a`. Also the concurrency key `cluster:NAME`.
    public var name: String
    /// SAKURA Cloud zone, e.g. `is1a`, `tk1a`.
    public var zone: String
    /// Kubernetes version, e.g. `1.30.2`.
    public var kubernetesVersion: String
    public var network: Network
    public var masters: NodePool
    public var workers: NodePool
    public var owners: Owners
    public var velero: Velero?
    /// The API health checks (`healthCheck.interval`); absent: the defaults.
    public var healthCheck: HealthCheck?

    public struct Network: Codable, Sendable, Equatable {
        /// The private switch's subnet, CIDR, e.g. `192.168.100.0/24`.
        public var subnet: String
        /// The control-plane VIP (kube-vip, ARP) inside the subnet, e.g. `192.168.100.10`.
        public var controlPlaneVIP: String
        /// First node address; nodes take consecutive addresses from here, e.g. `192.168.100.11`.
        public var nodeAddressStart: String
        /// LoadBalancer address range inside the subnet, e.g. `192.168.100.200-192.168.100.220`.
        public var loadBalancerRange: String
        /// Pod CIDR for the CNI (default `10.244.0.0/16`).
        public var podSubnet: String?

        public init(subnet: String, controlPlaneVIP: String, nodeAddressStart: String, loadBalancerRange: String, podSubnet: String? = nil) {
            self.subnet = subnet
            self.controlPlaneVIP = controlPlaneVIP
            self.nodeAddressStart = nodeAddressStart
            self.loadBalancerRange = loadBalancerRange
            self.podSubnet = podSubnet
        }
    }

    public struct NodePool: Codable, Sendable, Equatable {
        /// Number of nodes (masters: odd, 1-7; workers: 0-50).
        public var replicas: Int
        /// Server plan (`ClusterCatalog.plans`).
        public var plan: Plan
        /// Disk size in GB, a size SAKURA Cloud offers (`ClusterCatalog.diskSizesGB`: 20, 40, … 4096).
        public var diskGB: Int

        public init(replicas: Int, plan: Plan, diskGB: Int) {
            self.replicas = replicas
            self.plan = plan
            self.diskGB = diskGB
        }
    }

    public struct Plan: Codable, Sendable, Equatable {
        public var cpu: Int
        public var memoryGB: Int

        public init(cpu: Int, memoryGB: Int) {
            self.cpu = cpu
            self.memoryGB = memoryGB
        }
    }

    public struct Owners: Codable, Sendable, Equatable {
        /// Owning team, e.g. `payments`.
        public var team: String
        /// OpenSSH public keys of the people who may SSH into the nodes.
        public var sshKeys: [String]

        public init(team: String, sshKeys: [String]) {
            self.team = team
            self.sshKeys = sshKeys
        }
    }

    public struct Velero: Codable, Sendable, Equatable {
        /// Backup storage location name, e.g. `default`.
        public var storageLocation: String
        /// Nightly backup schedule, 5-field cron (e.g. `0 3 * * *`), or absent for none.
        public var schedule: String?
        /// Backup TTL, e.g. `720h`.
        public var ttl: String?

        public init(storageLocation: String, schedule: String? = nil, ttl: String? = nil) {
            self.storageLocation = storageLocation
            self.schedule = schedule
            self.ttl = ttl
        }
    }

    /// How Kaji checks the cluster's API (`GET https://VIP:6443/readyz?verbose=true`, CA pinned).
    public struct HealthCheck: Codable, Sendable, Equatable {
        /// How often, a duration from 1s to 1h like `30s`, `1m` or `1m30s` (default `30s`).
        public var interval: String?

        public init(interval: String? = nil) {
            self.interval = interval
        }
    }

    public init(name: String, zone: String, kubernetesVersion: String, network: Network, masters: NodePool, workers: NodePool, owners: Owners, velero: Velero? = nil,
                healthCheck: HealthCheck? = nil) {
        self.name = name
        self.zone = zone
        self.kubernetesVersion = kubernetesVersion
        self.network = network
        self.masters = masters
        self.workers = workers
        self.owners = owners
        self.velero = velero
        self.healthCheck = healthCheck
    }

    /// The concurrency key every operation on this cluster carries: two operations on one cluster never
    /// overlap.
    public var concurrencyKey: String { "cluster:\(name)" }
}
