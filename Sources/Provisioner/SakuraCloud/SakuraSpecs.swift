/// A switch to create.
public struct SwitchSpec: Sendable, Encodable {
    public var name: String
    /// Default empty.
    public var description: String
    /// Default none (the create adds its `kaji-op` tag).
    public var tags: [String]

    public init(name: String, description: String = "", tags: [String] = []) {
        self.name = name
        self.description = description
        self.tags = tags
    }

    enum CodingKeys: String, CodingKey { case name = "Name", description = "Description", tags = "Tags" }
}

/// Where one NIC of a new server is connected.
public enum SwitchConnection: Sendable, Equatable, Encodable {
    /// The shared internet segment.
    case shared
    /// A private switch.
    case `switch`(SakuraID)
    /// Not connected.
    case none

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .shared: try container.encode(["Scope": "shared"])
        case .switch(let id): try container.encode(SakuraRef(id: id))
        case .none: try container.encodeNil()
        }
    }
}

/// A server to create. It is created `down`; add a disk, then power it on.
public struct ServerSpec: Sendable, Encodable {
    public var name: String
    /// Default empty.
    public var description: String
    /// Default none.
    public var tags: [String]
    public var cpu: Int
    public var memoryMB: Int
    /// Default `standard`.
    public var commitment: String
    /// Default nil (the API picks).
    public var generation: Int?
    /// One entry per NIC, in order; default `[.shared]`.
    public var connectedSwitches: [SwitchConnection]
    /// Default `virtio`.
    public var interfaceDriver: String

    public init(
        name: String, description: String = "", tags: [String] = [], cpu: Int, memoryMB: Int,
        commitment: String = "standard", generation: Int? = nil, connectedSwitches: [SwitchConnection] = [.shared],
        interfaceDriver: String = "virtio"
    ) {
        self.name = name
        self.description = description
        self.tags = tags
        self.cpu = cpu
        self.memoryMB = memoryMB
        self.commitment = commitment
        self.generation = generation
        self.connectedSwitches = connectedSwitches
        self.interfaceDriver = interfaceDriver
    }

    enum CodingKeys: String, CodingKey {
        case name = "Name", description = "Description", tags = "Tags", serverPlan = "ServerPlan"
        case connectedSwitches = "ConnectedSwitches", interfaceDriver = "InterfaceDriver"
    }

    struct Plan: Encodable {
        var cpu: Int
        var memoryMB: Int
        var commitment: String
        var generation: Int?
        enum CodingKeys: String, CodingKey {
            case cpu = "CPU", memoryMB = "MemoryMB", commitment = "Commitment", generation = "Generation"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(description, forKey: .description)
        try container.encode(tags, forKey: .tags)
        try container.encode(
            Plan(cpu: cpu, memoryMB: memoryMB, commitment: commitment, generation: generation), forKey: .serverPlan)
        try container.encode(connectedSwitches, forKey: .connectedSwitches)
        try container.encode(interfaceDriver, forKey: .interfaceDriver)
    }
}

/// The edit (修正) applied to a disk copied from an archive: host name, SSH keys, network.
///
/// `password` never shows in `description`.
public struct DiskEdit: Sendable, Encodable, CustomStringConvertible {
    public var hostName: String?
    /// Default nil (no password set).
    public var password: String?
    /// OpenSSH public keys (`ssh-ed25519 AAAA… comment`).
    public var sshPublicKeys: [String]
    /// Default true: password login off.
    public var disablePasswordAuth: Bool
    public var userIPAddress: String?
    public var defaultRoute: String?
    public var networkMaskLength: Int?
    /// Startup scripts: `{"ID": ..., "Variables": {...}}` entries, given as (id, variables).
    public var notes: [StartupScriptNote]

    public init(
        hostName: String? = nil, password: String? = nil, sshPublicKeys: [String] = [],
        disablePasswordAuth: Bool = true, userIPAddress: String? = nil, defaultRoute: String? = nil,
        networkMaskLength: Int? = nil, notes: [StartupScriptNote] = []
    ) {
        self.hostName = hostName
        self.password = password
        self.sshPublicKeys = sshPublicKeys
        self.disablePasswordAuth = disablePasswordAuth
        self.userIPAddress = userIPAddress
        self.defaultRoute = defaultRoute
        self.networkMaskLength = networkMaskLength
        self.notes = notes
    }

    public var description: String {
        "DiskEdit(hostName: \(hostName ?? "-"), password: \(password == nil ? "none" : "<redacted>"), "
            + "sshPublicKeys: \(sshPublicKeys.count), userIPAddress: \(userIPAddress ?? "-"))"
    }

    enum CodingKeys: String, CodingKey {
        case hostName = "HostName", password = "Password", sshKeys = "SSHKeys", disablePWAuth = "DisablePWAuth"
        case userIPAddress = "UserIPAddress", userSubnet = "UserSubnet", notes = "Notes"
    }

    struct Key: Encodable {
        var publicKey: String
        enum CodingKeys: String, CodingKey { case publicKey = "PublicKey" }
    }

    struct Subnet: Encodable {
        var defaultRoute: String?
        var networkMaskLen: Int?
        enum CodingKeys: String, CodingKey { case defaultRoute = "DefaultRoute", networkMaskLen = "NetworkMaskLen" }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(hostName, forKey: .hostName)
        try container.encodeIfPresent(password, forKey: .password)
        try container.encode(sshPublicKeys.map { Key(publicKey: $0) }, forKey: .sshKeys)
        try container.encode(disablePasswordAuth, forKey: .disablePWAuth)
        try container.encodeIfPresent(userIPAddress, forKey: .userIPAddress)
        if defaultRoute != nil || networkMaskLength != nil {
            try container.encode(Subnet(defaultRoute: defaultRoute, networkMaskLen: networkMaskLength), forKey: .userSubnet)
        }
        if !notes.isEmpty { try container.encode(notes, forKey: .notes) }
    }
}

/// A startup script reference of a disk edit.
public struct StartupScriptNote: Sendable, Encodable {
    public var id: SakuraID
    public var variables: [String: String]

    public init(id: SakuraID, variables: [String: String] = [:]) {
        self.id = id
        self.variables = variables
    }

    enum CodingKeys: String, CodingKey { case id = "ID", variables = "Variables" }
}

/// A disk to create, usually a copy of an archive attached to a server and edited on the way.
public struct DiskSpec: Sendable, Encodable {
    public enum Plan: Int, Sendable { case ssd = 4, hdd = 2 }

    public var name: String
    /// Default empty.
    public var description: String
    /// Default none.
    public var tags: [String]
    /// Default `.ssd`.
    public var plan: Plan
    /// Default `virtio`.
    public var connection: String
    /// Default 40960 (40 GiB).
    public var sizeMB: Int
    public var sourceArchiveID: SakuraID?
    /// Server to attach to (it must be down).
    public var serverID: SakuraID?
    /// Default nil: no edit.
    public var edit: DiskEdit?
    /// Default false: boot the server when the copy ends.
    public var bootAtAvailable: Bool

    public init(
        name: String, description: String = "", tags: [String] = [], plan: Plan = .ssd,
        connection: String = "virtio", sizeMB: Int = 40960, sourceArchiveID: SakuraID? = nil,
        serverID: SakuraID? = nil, edit: DiskEdit? = nil, bootAtAvailable: Bool = false
    ) {
        self.name = name
        self.description = description
        self.tags = tags
        self.plan = plan
        self.connection = connection
        self.sizeMB = sizeMB
        self.sourceArchiveID = sourceArchiveID
        self.serverID = serverID
        self.edit = edit
        self.bootAtAvailable = bootAtAvailable
    }

    struct DiskBody: Encodable {
        var spec: DiskSpec
        enum CodingKeys: String, CodingKey {
            case name = "Name", description = "Description", tags = "Tags", plan = "Plan", connection = "Connection"
            case sizeMB = "SizeMB", sourceArchive = "SourceArchive", server = "Server"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(spec.name, forKey: .name)
            try container.encode(spec.description, forKey: .description)
            try container.encode(spec.tags, forKey: .tags)
            try container.encode(["ID": spec.plan.rawValue], forKey: .plan)
            try container.encode(spec.connection, forKey: .connection)
            try container.encode(spec.sizeMB, forKey: .sizeMB)
            try container.encodeIfPresent(spec.sourceArchiveID.map(SakuraRef.init), forKey: .sourceArchive)
            try container.encodeIfPresent(spec.serverID.map(SakuraRef.init), forKey: .server)
        }
    }

    enum CodingKeys: String, CodingKey { case disk = "Disk", config = "Config", bootAtAvailable = "BootAtAvailable" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(DiskBody(spec: self), forKey: .disk)
        try container.encodeIfPresent(edit, forKey: .config)
        try container.encode(bootAtAvailable, forKey: .bootAtAvailable)
    }
}
