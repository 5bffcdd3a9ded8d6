/// The JSON document of a find call (`GET /server?{...}`).
public struct FindQuery: Sendable, Encodable {
    /// One filter condition.
    public enum Condition: Sendable, Encodable {
        /// Exact match, OR between values.
        case exact([String])
        /// Partial match, AND between space-separated words.
        case partial(String)
        /// Every tag must be present (`{"Tags.Name":[[...]]}`).
        case allTags([String])

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .exact(let values): try container.encode(values)
            case .partial(let text): try container.encode(text)
            case .allTags(let tags): try container.encode([tags])
            }
        }
    }

    public var filter: [String: Condition]
    /// Default 0: the API's default page.
    public var count: Int
    public var from: Int

    public init(filter: [String: Condition] = [:], count: Int = 0, from: Int = 0) {
        self.filter = filter
        self.count = count
        self.from = from
    }

    /// Resources carrying every tag of `tags`.
    public static func tagged(_ tags: String...) -> FindQuery {
        FindQuery(filter: ["Tags.Name": .allTags(tags)])
    }

    enum CodingKeys: String, CodingKey { case filter = "Filter", count = "Count", from = "From" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !filter.isEmpty { try container.encode(filter, forKey: .filter) }
        if count > 0 { try container.encode(count, forKey: .count) }
        if from > 0 { try container.encode(from, forKey: .from) }
    }
}

/// `{"Total":n,"From":0,"Count":n,"<Plural>":[...]}`.
struct ListEnvelope<Item: Decodable>: Decodable {
    var items: [Item]

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let plural = ["Servers", "Disks", "Switches", "Archives", "Interfaces", "ServerPlans"]
        for key in plural where container.contains(AnyKey(stringValue: key)) {
            items = try container.decode([Item].self, forKey: AnyKey(stringValue: key))
            return
        }
        items = []
    }
}

/// `{"<Singular>":{...},"Success":...,"is_ok":true}`.
struct ItemEnvelope<Item: Decodable>: Decodable {
    var item: Item

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: ListEnvelope<Item>.AnyKey.self)
        for key in ["Server", "Disk", "Switch", "Archive", "Interface"]
        where container.contains(.init(stringValue: key)) {
            item = try container.decode(Item.self, forKey: .init(stringValue: key))
            return
        }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no resource member in the answer"))
    }
}

/// Any 2xx answer whose body does not matter.
struct IgnoredBody: Decodable {
    init(from decoder: any Decoder) throws {}
}
