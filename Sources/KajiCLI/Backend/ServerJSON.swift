import Engine
import Foundation

/// Reading the server's JSON documents (`KajiJSON`'s conventions).
enum ServerJSON {
    /// `KajiJSON.decoder()`, except that a time is read half a microsecond later than its text says. A
    /// time sent with milliseconds (`…57.272Z`) is often a hair below that as a binary number, and
    /// printing it again truncates to `…57.271Z`; the nudge makes the CLI print what the server sent, as it
    /// prints it on the database.
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = KajiJSON.parseDate(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
            }
            return date.addingTimeInterval(0.000_000_5)
        }
        return decoder
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder().decode(type, from: Data(text.utf8))
    }
}
