/// A switch (private L2 segment) as the API returns it.
public struct SakuraSwitch: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var name: String
    public var description: String?
    public var tags: [String]
    public var serverCount: Int?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", description = "Description", tags = "Tags", serverCount = "ServerCount"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        serverCount = try container.decodeIfPresent(Int.self, forKey: .serverCount)
    }
}

/// `Availability` of a disk or archive.
public enum DiskAvailability: Sendable, Equatable, Decodable, CustomStringConvertible {
    case available, migrating, failed, uploading, transfering, discontinued
    /// Any other value, kept verbatim.
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "available": self = .available
        case "migrating": self = .migrating
        case "failed": self = .failed
        case "uploading": self = .uploading
        case "transfering": self = .transfering
        case "discontinued": self = .discontinued
        default: self = .other(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public var description: String {
        switch self {
        case .available: return "available"
        case .migrating: return "migrating"
        case .failed: return "failed"
        case .uploading: return "uploading"
        case .transfering: return "transfering"
        case .discontinued: return "discontinued"
        case .other(let value): return value
        }
    }
}

/// `Instance.Status` of a server.
public enum ServerStatus: Sendable, Equatable, Decodable, CustomStringConvertible {
    case up, down, cleaning
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "up": self = .up
        case "down": self = .down
        case "cleaning": self = .cleaning
        default: self = .other(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public var description: String {
        switch self {
        case .up: return "up"
        case .down: return "down"
        case .cleaning: return "cleaning"
        case .other(let value): return value
        }
    }
}

/// A disk as the API returns it.
public struct SakuraDisk: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var name: String
    public var tags: [String]
    public var availability: DiskAvailability
    public var sizeMB: Int
    /// Copied so far while `migrating`.
    public var migratedMB: Int?
    public var serverID: SakuraID?
    public var sourceArchiveID: SakuraID?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", tags = "Tags", availability = "Availability", sizeMB = "SizeMB"
        case migratedMB = "MigratedMB", server = "Server", sourceArchive = "SourceArchive"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        availability = try container.decodeIfPresent(DiskAvailability.self, forKey: .availability) ?? .other("")
        sizeMB = try container.decodeIfPresent(Int.self, forKey: .sizeMB) ?? 0
        migratedMB = try container.decodeIfPresent(Int.self, forKey: .migratedMB)
        serverID = try container.decodeIfPresent(SakuraRef.self, forKey: .server)?.id
        sourceArchiveID = try container.decodeIfPresent(SakuraRef.self, forKey: .sourceArchive)?.id
    }
}

/// A public or private archive (OS image).
public struct SakuraArchive: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var name: String
    public var tags: [String]
    public var sizeMB: Int
    public var scope: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", tags = "Tags", sizeMB = "SizeMB", scope = "Scope"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        sizeMB = try container.decodeIfPresent(Int.self, forKey: .sizeMB) ?? 0
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
    }
}

/// What `GET /auth-status` says about the API key.
public struct SakuraAuthStatus: Sendable, Decodable, Equatable {
    public var accountID: SakuraID?
    public var accountName: String?
    /// e.g. `create`, `arrange`, `view`.
    public var permission: String?
    public var isAPIKey: Bool?

    enum CodingKeys: String, CodingKey {
        case accountID = "AccountID", accountName = "AccountName", permission = "Permission", isAPIKey = "IsAPIKey"
    }
}

/// A server plan of `GET /product/server`.
public struct SakuraServerPlan: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var name: String
    public var cpu: Int
    public var memoryMB: Int
    public var generation: Int?
    public var commitment: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", cpu = "CPU", memoryMB = "MemoryMB", generation = "Generation"
        case commitment = "Commitment"
    }
}
