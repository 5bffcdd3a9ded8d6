import Foundation
import Yams

/// `openapi.yaml`, the contract of the API, as shipped with the server.
public enum OpenAPIDocument {
    /// The document's YAML text.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw OpenAPIDocumentError(description: "openapi.yaml is missing from the server's resources")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The document as JSON (what `GET /api/v1/openapi.json` serves).
    public static func json() throws -> String {
        let object = try Yams.load(yaml: try yaml()) ?? [:]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Every operation of the document as `METHOD /path` (upper-case method), for the route test.
    public static func operations() throws -> Set<String> {
        guard let object = try Yams.load(yaml: try yaml()) as? [String: Any], let paths = object["paths"] as? [String: Any] else { return [] }
        var result: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any]).map({ Array($0.keys) }) ?? [] where ["get", "post", "put", "patch", "delete"].contains(method) {
                result.insert("\(method.uppercased()) \(path)")
            }
        }
        return result
    }

    /// Every route the server serves, as `METHOD /path`, with the role it needs (nil: none).
    public static func routes() -> [(operation: String, role: String?)] {
        APIRoutes.table.map { ("\($0.method.rawValue) \($0.path)", $0.role?.rawValue) }
    }
}

struct OpenAPIDocumentError: Error, CustomStringConvertible {
    let description: String
}
