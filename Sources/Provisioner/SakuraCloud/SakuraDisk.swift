/// A disk as the API returns it.
public struct SakuraDisk: Sendable, Decodable, Equatable, SakuraTaggedResource {
    public var id: SakuraID
    public var name: String
    public var tags: [String]
    public var availability: DiskAvailability
    public var sizeMB: Int
    /// Copied so far while `migrating`.
    public var migratedMB: Int?
    public var serverID: SakuraID?
    public var sourceArchiveID: SakuraID?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", tags = "Tags", availability = "Availability", sizeMB = "SizeMB"
        case migratedMB = "MigratedMB", server = "Server", sourceArchive = "SourceArchive", createdAt = "CreatedAt"
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
        createdAt = try? container.decodeIfPresent(String.self, forKey: .createdAt)
    }
}
