import Foundation

/// The JSON conventions of every payload Kaji stores or prints: ISO 8601 times with milliseconds (UTC),
/// sorted keys so that stored results are byte-stable.
public enum KajiJSON {
    /// Formats a date as ISO 8601 with milliseconds, e.g. `2026-11-26T19:51:35.123Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Parses ISO 8601 with or without fractional seconds.
    public static func parseDate(_ text: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return d }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
            }
            return date
        }
        return decoder
    }

    /// Encodes a value to a JSON string.
    public static func string<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
        String(decoding: try encoder(pretty: pretty).encode(value), as: UTF8.self)
    }

    /// Decodes a JSON string.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder().decode(type, from: Data(text.utf8))
    }

    /// Describes a decoding error by the path of the field that was wrong.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "the top level" : "'\(p.replacingOccurrences(of: ".[", with: "["))'"
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return "missing field \(path(ctx.codingPath + [key]))"
        case .typeMismatch(let type, let ctx):
            return "field \(path(ctx.codingPath)) should be \(type): \(ctx.debugDescription)"
        case .valueNotFound(let type, let ctx):
            return "field \(path(ctx.codingPath)) is null, expected \(type)"
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty { return "not valid JSON: \(ctx.underlyingError.map { String(describing: $0) } ?? ctx.debugDescription)" }
            return "field \(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }
}
