/// Power state of a simulated server, with the virtual time at which a transition ends.
enum SimPower: Sendable, Equatable {
    case down
    case booting(until: Double)
    case up
    case cleaning(until: Double)

    /// The `Instance.Status` the API reports. A booting server still reads `down`.
    var apiStatus: String {
        switch self {
        case .down, .booting: return "down"
        case .up: return "up"
        case .cleaning: return "cleaning"
        }
    }
}

struct SimSwitch: Sendable {
    var id: String
    var zone: String
    var name: String
    var description: String
    var tags: [String]
    var createdAt: Double
}

struct SimInterface: Sendable {
    var id: String
    var zone: String
    var serverID: String
    /// A switch ID, `shared` for the shared segment, nil when unconnected.
    var switchID: String?
    var macAddress: String
    var ipAddress: String?
    var userIPAddress: String?
}

struct SimServer: Sendable {
    var id: String
    var zone: String
    var name: String
    var description: String
    var tags: [String]
    var cpu: Int
    var memoryMB: Int
    var commitment: String
    var generation: Int
    var interfaceDriver: String
    var power: SimPower
    var statusChangedAt: Double
    var createdAt: Double
}

/// The edit applied to a disk copied from an archive (`Config` of `POST /disk`, `PUT /disk/{id}/config`).
struct SimDiskConfig: Sendable {
    var hostName: String?
    var sshKeys: [String]
    var disablePasswordAuth: Bool
    var hasPassword: Bool
    var userIPAddress: String?
    var notes: [JSONValue]
}

enum SimAvailability: String, Sendable {
    case migrating, available, failed
}

struct SimDisk: Sendable {
    var id: String
    var zone: String
    var name: String
    var description: String
    var tags: [String]
    var planID: Int
    var connection: String
    var sizeMB: Int
    var sourceArchiveID: String?
    var serverID: String?
    var availability: SimAvailability
    var copyStartedAt: Double
    var readyAt: Double
    var willFail: Bool
    var bootAtAvailable: Bool
    var config: SimDiskConfig?
    var createdAt: Double
}

struct SimArchive: Sendable {
    var id: String
    var zone: String
    var name: String
    var tags: [String]
    var sizeMB: Int
}

/// Limits per account; exceeding one answers 409 with the matching `limit_*` code.
public struct SimulatorQuotas: Sendable, Equatable {
    /// Default 100.
    public var maxServers: Int
    /// Default 1 TiB.
    public var maxMemoryMB: Int
    /// Default 100 TiB.
    public var maxDiskSizeMB: Int
    /// Default 50.
    public var maxSwitches: Int

    public init(
        maxServers: Int = 100, maxMemoryMB: Int = 1_048_576, maxDiskSizeMB: Int = 104_857_600,
        maxSwitches: Int = 50
    ) {
        self.maxServers = maxServers
        self.maxMemoryMB = maxMemoryMB
        self.maxDiskSizeMB = maxDiskSizeMB
        self.maxSwitches = maxSwitches
    }
}

/// Where simulated servers can be reached over SSH.
///
/// Every server is served by the same loopback `sshd` (started by `scripts/start-sshd.sh`). The server's JSON
/// carries a non-standard member `"KajiSim": {"SSHHost", "SSHPort", "World", "Node"}`; `Node` is the host
/// name of its disk edit (else the server name). A client sends `KAJI_SIM_WORLD=<World>` and
/// `KAJI_NODE=<Node>` as SSH environment variables (the sshd's `AcceptEnv`); the sshd's `ForceCommand` then
/// puts the simulated kubeadm/kubectl/velero/argocd on PATH, and they keep that node's cluster state under
/// `$KAJI_SIM_STATE/<World>/`. The Provisioner's `SakuraServer.sshEndpoint()` does all this.
public struct SimulatedNodes: Sendable, Equatable {
    /// Address of the `sshd`, default `127.0.0.1`.
    public var host: String
    /// Port of the `sshd`.
    public var port: Int
    /// Name that keeps this simulator's node state apart from other simulators' on the same `sshd`.
    public var world: String
    /// The sshd's `authorized_keys`; when set, the `SSHKeys` of every disk edit are added to it, as the
    /// real disk edit installs them on the node. Default nil.
    public var authorizedKeysFile: String?
    /// The node tools' state directory (`$KAJI_SIM_STATE`); when set, the simulator tells the world's
    /// simulated `kubeadm init` where to register its kube-apiserver stand-in (`<dir>/<world>/simulator.json`)
    /// and keeps `<dir>/<world>/apiservers.json` (see ``SakuraSimulator/apiServerOverridesFile``). Default nil.
    public var stateDirectory: String?

    public init(host: String = "127.0.0.1", port: Int, world: String, authorizedKeysFile: String? = nil, stateDirectory: String? = nil) {
        self.host = host
        self.port = port
        self.world = world
        self.authorizedKeysFile = authorizedKeysFile
        self.stateDirectory = stateDirectory
    }

    /// `<stateDirectory>/<world>` (the node tools' world directory; `/` in a world name becomes `_`).
    public var worldDirectory: String? {
        stateDirectory.map { "\($0)/\(world.replacingOccurrences(of: "/", with: "_"))" }
    }
}

extension SimulatedNodes {
    /// The test sshd that `scripts/start-sshd.sh` started, from `KAJI_TEST_SSHD_PORT`, `KAJI_TEST_SSHD_DIR`
    /// (its `authorized_keys` receives disk-edit keys) and `KAJI_SIM_STATE` (the node state); nil when the
    /// port is not set.
    public static func fromEnvironment(_ environment: [String: String], world: String) -> SimulatedNodes? {
        guard let port = environment["KAJI_TEST_SSHD_PORT"].flatMap(Int.init) else { return nil }
        let keys = environment["KAJI_TEST_SSHD_DIR"].map { $0 + "/authorized_keys" }
        return SimulatedNodes(port: port, world: world, authorizedKeysFile: keys,
                              stateDirectory: environment["KAJI_SIM_STATE"].flatMap { $0.isEmpty ? nil : $0 })
    }
}
