/// A switch (private L2 segment) as the API returns it.
public struct SakuraSwitch: Sendable, Decodable, Equatable, SakuraTaggedResource {
    public var id: SakuraID
    public var name: String
    public var description: String?
    public var tags: [String]
    public var serverCount: Int?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", description = "Description", tags = "Tags", serverCount = "ServerCount"
        case createdAt = "CreatedAt"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(SakuraID.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        serverCount = try container.decodeIfPresent(Int.self, forKey: .serverCount)
        createdAt = try? container.decodeIfPresent(String.self, forKey: .createdAt)
    }
}
