import Foundation

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
    /// Default 0: the API's default page size. Always sent, as the SDK does.
    public var count: Int
    /// Default 0. Always sent, as the SDK does.
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
        try container.encode(count, forKey: .count)
        try container.encode(from, forKey: .from)
        if !filter.isEmpty { try container.encode(filter, forKey: .filter) }
    }

    /// The JSON document as the official Go SDK writes it after `?` (iaas-api-go `client.go` `newRequest`):
    /// compact, `Count` and `From` always present (the find envelopes of `zz_envelopes.go` have no
    /// `omitempty` on them), then `Filter` with its keys sorted (Go marshals maps sorted). Only string
    /// filter values are escaped, with Go's `url.PathEscape` (`search/filter.go` `escapeFilterString`):
    /// each value of an exact match, and each word of a partial match, joined by `%20`
    /// (`search/equal_expression.go`); tag groups go through unescaped (`TagsAndEqual`). `<`, `>` and `&`
    /// are written `\u003c`, `\u003e`, `\u0026` as Go's `json.Marshal` does.
    public var sdkDocument: String {
        var members = ["\"Count\":\(count)", "\"From\":\(from)"]
        if !filter.isEmpty {
            let conditions = filter.keys.sorted().map { key -> String in
                let value: String
                switch filter[key] ?? .exact([]) {
                case .exact(let values):
                    value = "[" + values.map { Self.jsonString(Self.pathEscape($0)) }.joined(separator: ",") + "]"
                case .partial(let text):
                    let words = text.split(separator: " ", omittingEmptySubsequences: true).map { Self.pathEscape(String($0)) }
                    value = Self.jsonString(words.joined(separator: "%20"))
                case .allTags(let tags):
                    value = "[[" + tags.map(Self.jsonString).joined(separator: ",") + "]]"
                }
                return Self.jsonString(key) + ":" + value
            }
            members.append("\"Filter\":{" + conditions.joined(separator: ",") + "}")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// Go's `url.PathEscape`: every byte but `A-Z a-z 0-9 - _ . ~ $ & + : = @` as `%XX`.
    static func pathEscape(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if isUnreserved(byte) || "$&+:=@".utf8.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += percent(byte)
            }
        }
        return result
    }

    /// A JSON string literal as Go's `json.Marshal` writes it (HTML characters and U+2028/9 escaped).
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                result += "\\u" + String(format: "%04x", scalar.value)
            default:
                if scalar.value < 0x20 {
                    result += "\\u" + String(format: "%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// The query document made safe for a URL without changing what the API reads after its one
    /// percent-decoding. The Go SDK puts the raw document after `?`; AsyncHTTPClient parses URLs with
    /// Foundation, which would percent-encode `{`, `"`, `[` and the like itself and, having to encode
    /// anything, would also encode the `%` of the SDK's own `%20` escapes (double encoding). So the
    /// characters a URL query cannot carry are encoded here, and existing `%XX` escapes are kept.
    static func urlSafe(_ document: String) -> String {
        let bytes = Array(document.utf8)
        var result = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let isEscape = byte == UInt8(ascii: "%") && index + 2 < bytes.count
                && isHex(bytes[index + 1]) && isHex(bytes[index + 2])
            if isUnreserved(byte) || "!$&'()*+,;=:@/?".utf8.contains(byte) || isEscape {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += percent(byte)
            }
            index += 1
        }
        return result
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
    }

    static func percent(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "%" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0f)])
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
