/// A SAKURA Cloud resource ID (12 decimal digits, e.g. `113000000001`).
///
/// The API sends IDs as JSON strings, or as numbers when `X-Sakura-Bigint-As-Int: 1` is set; both decode.
/// It encodes as a JSON number, as the official Go SDK's `types.ID` (an `int64` without a custom encoder,
/// iaas-api-go `types/id.go`); the API refuses string IDs in request bodies. A value that is not a decimal
/// number (never one the API gave) fails to encode rather than being sent as a string.
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
        guard let number = int64Value else {
            throw EncodingError.invalidValue(
                rawValue, .init(codingPath: encoder.codingPath, debugDescription: "a SAKURA Cloud ID is a decimal number, got `\(rawValue)`"))
        }
        try container.encode(number)
    }

    /// The ID as a number, nil when it is not a decimal number.
    public var int64Value: Int64? { Int64(rawValue) }

    public var description: String { rawValue }
}

/// `{"ID": 113000000001}`, the API's reference to another resource.
public struct SakuraRef: Sendable, Hashable, Codable {
    public var id: SakuraID

    public init(id: SakuraID) {
        self.id = id
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID"
    }
}
