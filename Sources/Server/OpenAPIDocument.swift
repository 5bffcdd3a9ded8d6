import Foundation
import HTTPTypes
import OpenAPIRuntime
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

    /// Every route the generated server registers, as `METHOD /path`, with the role the gate asks of it
    /// (nil: none; `unknown` for an operation `APIRoutes.operations` does not list).
    public static func routes() -> [(operation: String, role: String?)] {
        let recorder = RouteRecorder()
        try? APIHandler(server: nil).registerHandlers(on: recorder, serverURL: Servers.Server1.url())
        let ids = (try? operationIDs()) ?? [:]
        return recorder.routes.map { route in
            let role: String? = ids[route].flatMap { APIRoutes.operations[$0] }.map { $0.role?.rawValue } ?? "unknown"
            return (route, role)
        }
    }

    /// The operationId of each `METHOD /path` of the document.
    static func operationIDs() throws -> [String: String] {
        guard let object = try Yams.load(yaml: try yaml()) as? [String: Any], let paths = object["paths"] as? [String: Any] else { return [:] }
        var result: [String: String] = [:]
        for (path, item) in paths {
            for case let (method, operation as [String: Any]) in (item as? [String: Any]) ?? [:] {
                if let id = operation["operationId"] as? String { result["\(method.uppercased()) \(path)"] = id }
            }
        }
        return result
    }
}

/// A transport that only notes what the generated server registers.
final class RouteRecorder: ServerTransport, @unchecked Sendable {
    private(set) var routes: [String] = []

    func register(_ handler: @Sendable @escaping (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
                  method: HTTPRequest.Method, path: String) throws {
        routes.append("\(method.rawValue) \(path)")
    }
}

struct OpenAPIDocumentError: Error, CustomStringConvertible {
    let description: String
}
