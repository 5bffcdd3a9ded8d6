import Engine
import Foundation
import Hummingbird

/// One authenticated request as a route sees it.
struct APICall: Sendable {
    let request: Request
    let parameters: Parameters
    let body: Data
    /// Nil only on routes that need no role.
    let principal: Principal?

    /// The actor to record: `token:NAME`.
    var actor: String { principal?.actor ?? "anonymous" }

    /// A path parameter, percent-decoded (`secret%3A…` is `secret:…`).
    func path(_ name: String) throws -> String {
        guard let value = parameters.get(name) else { throw KajiError(.invalidArgument, "\(name) is missing from the path", field: name) }
        return try Self.noNUL(value.removingPercentEncoding ?? value, field: name)
    }

    /// PostgreSQL text cannot hold NUL: refused as input rather than failing in the database.
    static func noNUL(_ value: String, field: String) throws -> String {
        guard !value.contains("\0") else { throw KajiError(.invalidArgument, "\(field) contains a NUL character, which cannot be stored", field: field) }
        return value
    }

    /// The run id of the path (`{id}`); a malformed id is a 404 (no such run), named `run`.
    func runID() throws -> UUID {
        let text = try path("id")
        guard let id = UUID(uuidString: text) else { throw KajiError(.runNotFound, "no run with id '\(text)' (a run id is a UUID)", field: "run") }
        return id
    }

    /// A query parameter, or nil.
    func query(_ name: String) throws -> String? {
        try request.uri.queryParameters.get(name).map { try Self.noNUL($0, field: name) }
    }

    /// An integer query parameter (default when absent); errors name it.
    func query(_ name: String, default value: Int) throws -> Int {
        guard let text = try query(name) else { return value }
        guard let number = Int(text) else { throw KajiError(.invalidArgument, "\(name) '\(text)' is not an integer", field: name) }
        return number
    }

    /// A boolean query parameter (`true`/`false`, `1`/`0`; default false).
    func flag(_ name: String) throws -> Bool {
        guard let text = try query(name) else { return false }
        switch text.lowercased() {
        case "true", "1", "": return true
        case "false", "0": return false
        default: throw KajiError(.invalidArgument, "\(name) '\(text)' must be true or false", field: name)
        }
    }

    /// The body as a JSON object of `T`, refusing a Content-Type other than JSON (415), text that is not
    /// JSON (400), and unknown fields or a wrong shape (422, naming the field). An empty body reads as `{}`.
    func json<T: Decodable>(_ type: T.Type, fields: Set<String>) throws -> T {
        if let contentType = request.headers[.contentType], !body.isEmpty,
           !contentType.lowercased().hasPrefix("application/json") {
            throw KajiError(.unsupportedMediaType, "Content-Type '\(contentType)' is not taken here: send application/json", field: "body")
        }
        let data = body.isEmpty ? Data("{}".utf8) : body
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw KajiError(.malformedBody, "body is not valid JSON", field: "body")
        }
        if String(decoding: data, as: UTF8.self).range(of: "\\u0000", options: .caseInsensitive) != nil {
            throw KajiError(.invalidArgument, "body contains a NUL character (\\u0000), which cannot be stored", field: "body")
        }
        guard let dictionary = object as? [String: Any] else {
            throw KajiError(.invalidArgument, "body must be a JSON object", field: "body")
        }
        if let unknown = dictionary.keys.sorted().first(where: { !fields.contains($0) }) {
            throw KajiError(.invalidArgument, "\(unknown) is not a field of this request (fields: \(fields.sorted().joined(separator: ", ")))", field: unknown)
        }
        do {
            return try KajiJSON.decoder().decode(T.self, from: data)
        } catch {
            throw KajiError(.invalidArgument, "body: \(KajiJSON.describe(error))", field: Self.field(of: error) ?? "body")
        }
    }

    /// The field a decoding error is about, as a dotted path.
    static func field(of error: any Error) -> String? {
        guard let error = error as? DecodingError else { return nil }
        let path: [any CodingKey]
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: return nil
        }
        let names = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return names.isEmpty ? nil : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}
