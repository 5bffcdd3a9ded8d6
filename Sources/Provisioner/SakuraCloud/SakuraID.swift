/// A SAKURA Cloud resource ID (12 decimal digits, e.g. `113000000001`).
///
/// The API sends IDs as JSON strings, or as numbers when `X-Sakura-Bigint-As-Int: 1` is set; both decode.
/// It encodes as a string.
public struct SakuraID: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            rawValue = String(number)
        } else {
            let text = try container.decode(String.self)
            rawValue = text
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}

/// `{"ID": "..."}`, the API's reference to another resource.
public struct SakuraRef: Sendable, Hashable, Codable {
    public var id: SakuraID

    public init(id: SakuraID) {
        self.id = id
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID"
    }
}
