import Engine
import Foundation
import Hummingbird

/// One authenticated request as a hand-written route (the dashboard's, the event stream's) sees it; the
/// API's operations go through the generated server (`APIHandler`).
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
