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
