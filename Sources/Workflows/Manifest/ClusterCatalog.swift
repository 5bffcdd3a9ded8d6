import Foundation

/// What SAKURA Cloud offers that a manifest may ask for: zones, server plans, disk sizes.
public enum ClusterCatalog {
    /// Zones Kaji provisions in: Ishikari 1a/1b/1c, Tokyo 1a/1b, and the sandbox `tk1v`.
    public static let zones = ["is1a", "is1b", "is1c", "tk1a", "tk1b", "tk1v"]

    /// CPU counts of the server plans.
    public static let planCPUs = [1, 2, 4, 8, 16, 32]

    /// The memory sizes (GB) offered with `cpu` cores: powers of two from `cpu` to 16 × `cpu`, at most 128.
    /// Empty for a CPU count that has no plan.
    public static func planMemoryGB(cpu: Int) -> [Int] {
        guard planCPUs.contains(cpu) else { return [] }
        return [1, 2, 4, 8, 16, 32, 64, 128].filter { $0 >= cpu && $0 <= cpu * 16 }
    }

    /// Whether `cpu` cores with `memoryGB` GB is a plan.
    public static func isPlan(cpu: Int, memoryGB: Int) -> Bool {
        planMemoryGB(cpu: cpu).contains(memoryGB)
    }

    /// Every plan as `(cpu, memoryGB)`, by CPU then memory.
    public static var plans: [(cpu: Int, memoryGB: Int)] {
        planCPUs.flatMap { cpu in planMemoryGB(cpu: cpu).map { (cpu, $0) } }
    }

    /// The SSD sizes (GB) a node's disk may have.
    public static let diskSizesGB = [20, 40, 60, 80, 100, 250, 500, 750, 1024, 2048, 4096]

    /// Control-plane nodes need at least this much (kubeadm's preflight: 2 CPUs, 1700 MB).
    public static let minimumMasterCPU = 2
    public static let minimumMasterMemoryGB = 2

    /// Allowed `masters.replicas` (odd, for etcd quorum).
    public static let masterReplicas = [1, 3, 5, 7]
    /// Allowed `workers.replicas`.
    public static let workerReplicas = 0...50

    /// The service range kubeadm uses by default; node and pod ranges must not overlap it.
    public static let serviceSubnet = "10.96.0.0/12"
    /// The pod range used when `network.podSubnet` is absent.
    public static let defaultPodSubnet = "10.244.0.0/16"
}
