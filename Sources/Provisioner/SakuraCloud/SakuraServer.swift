/// A server as the API returns it.
public struct SakuraServer: Sendable, Decodable, Equatable, SakuraTaggedResource {
    public var id: SakuraID
    public var name: String
    public var tags: [String]
    public var hostName: String?
    public var cpu: Int
    public var memoryMB: Int
    /// `Instance.Status`, compared case-insensitively (iaas-api-go `types/instance_status.go` `IsUp`).
    public var status: ServerStatus
    /// `Availability` of the server itself (`available` once created); nil when absent.
    public var availability: DiskAvailability?
    /// NICs in order (NIC 0 first). `null` entries of the API's array are skipped.
    public var interfaces: [SakuraInterface]
    public var diskIDs: [SakuraID]
    /// The simulated node behind this server, when it comes from `sakura-sim` started with an sshd.
    public var simulatedNode: SimulatedNodeInfo?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", tags = "Tags", hostName = "HostName", serverPlan = "ServerPlan"
        case instance = "Instance", interfaces = "Interfaces", disks = "Disks", kajiSim = "KajiSim"
        case availability = "Availability", createdAt = "CreatedAt"
    }

    /// Up as the SDK's `WaiterForUp` wants it (iaas-api-go `state_functions.go`): `Availability` is
    /// `available` (or absent) and `Instance.Status` is `up`.
    public var isUp: Bool {
        (availability == nil || availability == .available) && status == .up
    }

    struct Plan: Decodable {
        var cpu: Int?
        var memoryMB: Int?
        enum CodingKeys: String, CodingKey { case cpu = "CPU", memoryMB = "MemoryMB" }
    }

    struct Instance: Decodable {
        var status: ServerStatus?
        enum CodingKeys: String, CodingKey { case status = "Status" }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        hostName = try container.decodeIfPresent(String.self, forKey: .hostName)
        let plan = try container.decodeIfPresent(Plan.self, forKey: .serverPlan)
        cpu = plan?.cpu ?? 0
        memoryMB = plan?.memoryMB ?? 0
        status = try container.decodeIfPresent(Instance.self, forKey: .instance)?.status ?? .other("")
        availability = try container.decodeIfPresent(DiskAvailability.self, forKey: .availability)
        interfaces = try container.decodeIfPresent([SakuraInterface?].self, forKey: .interfaces)?.compactMap { $0 } ?? []
        diskIDs = try container.decodeIfPresent([SakuraRef?].self, forKey: .disks)?.compactMap { $0?.id } ?? []
        simulatedNode = try container.decodeIfPresent(SimulatedNodeInfo.self, forKey: .kajiSim)
        createdAt = try? container.decodeIfPresent(String.self, forKey: .createdAt)
    }

    /// The address to reach the server over SSH: the simulated node's sshd (as root, with `KAJI_SIM_WORLD`
    /// and `KAJI_NODE` sent as SSH environment) when there is one, else the shared-segment interface's IP
    /// address on `port` as `user`.
    /// - Parameters:
    ///   - port: default 22.
    ///   - user: default `ubuntu`, the admin user of SAKURA's public Ubuntu archives (unverified; root login
    ///     is off there, so node commands need `sudo`).
    public func sshEndpoint(port: Int = 22, user: String = "ubuntu") -> SSHEndpoint? {
        if let node = simulatedNode {
            return SSHEndpoint(
                host: node.sshHost, port: node.sshPort,
                environment: ["KAJI_SIM_WORLD": node.world, "KAJI_NODE": node.node])
        }
        guard let address = interfaces.first(where: { $0.isShared })?.ipAddress ?? interfaces.first?.ipAddress else {
            return nil
        }
        return SSHEndpoint(host: address, port: port, user: user)
    }
}

/// A network interface of a server.
public struct SakuraInterface: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var macAddress: String?
    /// Address on the shared segment.
    public var ipAddress: String?
    /// Address set by the disk edit.
    public var userIPAddress: String?
    /// The connected switch; nil when unconnected or on the shared segment.
    public var switchID: SakuraID?
    /// Whether it is connected to the shared internet segment.
    public var isShared: Bool

    enum CodingKeys: String, CodingKey {
        case id = "ID", macAddress = "MACAddress", ipAddress = "IPAddress", userIPAddress = "UserIPAddress"
        case switchInfo = "Switch"
    }

    struct SwitchInfo: Decodable {
        var id: SakuraID?
        var scope: String?
        enum CodingKeys: String, CodingKey { case id = "ID", scope = "Scope" }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        macAddress = try container.decodeIfPresent(String.self, forKey: .macAddress)
        ipAddress = try container.decodeIfPresent(String.self, forKey: .ipAddress)
        userIPAddress = try container.decodeIfPresent(String.self, forKey: .userIPAddress)
        let info = try container.decodeIfPresent(SwitchInfo.self, forKey: .switchInfo)
        isShared = info?.scope == "shared"
        switchID = isShared ? nil : info?.id
    }
}

/// The `KajiSim` member the simulator adds to servers: which sshd serves the node, and its identity.
public struct SimulatedNodeInfo: Sendable, Decodable, Equatable {
    public var sshHost: String
    public var sshPort: Int
    public var world: String
    public var node: String

    enum CodingKeys: String, CodingKey {
        case sshHost = "SSHHost", sshPort = "SSHPort", world = "World", node = "Node"
    }
}
