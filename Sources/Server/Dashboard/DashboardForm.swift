import Engine
import Foundation

/// The fields of an `application/x-www-form-urlencoded` body (a dashboard form), or of a query string.
struct DashboardForm: Sendable {
    private(set) var fields: [String: String] = [:]

    subscript(_ name: String) -> String? { fields[name] }

    /// The value of `name`, trimmed; nil when absent or empty.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// Parses `name=value&…` (`+` is a space, `%XX` a byte of UTF-8). The first of repeated names counts.
    /// Throws `malformedBody` for text that does not decode, and `invalidArgument` naming the field for a
    /// value with a NUL character (PostgreSQL text cannot hold it).
    static func parse(_ text: String) throws -> DashboardForm {
        var form = DashboardForm()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else {
                throw KajiError(.malformedBody, "the form is not URL-encoded text", field: "body")
            }
            guard let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw KajiError(.malformedBody, "the form field \(name) is not URL-encoded text", field: name)
            }
            if value.contains("\0") { throw KajiError(.invalidArgument, "\(name) contains a NUL character, which cannot be stored", field: name) }
            if form.fields[name] == nil { form.fields[name] = value }
        }
        return form
    }

    private static func decode(_ part: Substring) -> String? {
        String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// Characters left as they are in a query value; everything else is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// `value` percent-encoded for a query string or a path segment.
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// `path?name=value&…`, leaving out nil and empty values.
    static func url(_ path: String, _ items: [(String, String?)]) -> String {
        let query = items.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return "\(encode(name))=\(encode(value))"
        }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }
}
