import Engine
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// What every operation of the generated server passes before its input is decoded, in the order the API
/// has always checked it: the bearer token and the operation's role (401, 403), the body's size (413),
/// its Content-Type (415) and, for JSON, that it is a JSON object without NUL characters (400, 422); query
/// parameters and path names without NUL, query parameters of the type the document gives them (422,
/// naming the parameter), a run id that is a UUID (404). The caller's principal is then
/// `APIGate.principal` for the operation's handler.
struct APIGate: ServerMiddleware {
    let server: KajiServer

    /// The caller of the operation being handled (nil on an operation that needs no role).
    @TaskLocal static var principal: Principal?

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard let operation = APIRoutes.operations[operationID] else {
            throw KajiError(.routeNotFound, "operation \(operationID) is not served: see /api/v1/openapi.json")
        }
        let principal = try await server.authorize(authorization: request.headerFields[.authorization], role: operation.role)
        var request = request
        let body = try await Self.checked(body: body, of: operation, request: &request)
        try Self.checkParameters(request, metadata, operationID: operationID)
        // The API answers JSON (and the event stream) whatever Accept asks, as it always has: the generated
        // server would refuse to encode an answer only after the operation had run.
        request.headerFields[.accept] = nil
        let (answer, responseBody) = try await Self.$principal.withValue(principal) {
            try await next(request, body, metadata)
        }
        var response = answer
        if operationID == Operations.RunEvents.id, response.status == .ok {
            // Not cached, not buffered by a proxy.
            response.headerFields[.contentType] = "text/event-stream; charset=utf-8"
            response.headerFields[.cacheControl] = "no-cache"
            response.headerFields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        }
        return (response, responseBody)
    }

    /// The body, read up to `KajiServer.maxBodyBytes`, as the generated server is to decode it.
    static func checked(body: HTTPBody?, of operation: APIOperation, request: inout HTTPRequest) async throws -> HTTPBody? {
        if let length = request.headerFields[.contentLength].flatMap(Int.init), length > KajiServer.maxBodyBytes {
            throw KajiError(.payloadTooLarge, "body is \(length) bytes; at most \(KajiServer.maxBodyBytes) are taken", field: "body")
        }
        var data = Data()
        if let body {
            for try await chunk in body {
                guard data.count + chunk.count <= KajiServer.maxBodyBytes else {
                    throw KajiError(.payloadTooLarge, "body is larger than \(KajiServer.maxBodyBytes) bytes", field: "body")
                }
                data.append(contentsOf: chunk)
            }
        }
        let contentType = request.headerFields[.contentType]
        switch operation.body {
        case .none:
            return HTTPBody(data)
        case .json:
            if data.isEmpty {
                // An empty body reads as `{}`, whatever it was labelled.
                request.headerFields[.contentType] = "application/json"
                return HTTPBody("{}")
            }
            if let contentType, !contentType.lowercased().hasPrefix("application/json") {
                throw KajiError(.unsupportedMediaType, "Content-Type '\(contentType)' is not taken here: send application/json", field: "body")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
                throw KajiError(.malformedBody, "body is not valid JSON", field: "body")
            }
            if String(decoding: data, as: UTF8.self).range(of: "\\u0000", options: .caseInsensitive) != nil {
                throw KajiError(.invalidArgument, "body contains a NUL character (\\u0000), which cannot be stored", field: "body")
            }
            guard object is [String: Any] else {
                throw KajiError(.invalidArgument, "body must be a JSON object", field: "body")
            }
            request.headerFields[.contentType] = "application/json"
            return HTTPBody(data)
        case .manifest:
            // YAML under any of its names, or JSON (which is YAML too): the handler reads the text as YAML.
            let type = (contentType ?? "application/yaml").lowercased()
            let taken = ["application/yaml", "application/x-yaml", "text/yaml", "application/json"]
            guard taken.contains(where: { type.hasPrefix($0) }) else {
                throw KajiError(.unsupportedMediaType, "Content-Type '\(type)' is not taken here: send a manifest as application/yaml or application/json", field: "body")
            }
            guard !data.isEmpty, let text = String(data: data, encoding: .utf8) else {
                throw KajiError(.malformedBody, "body must be a cluster manifest in UTF-8 (YAML or JSON)", field: "body")
            }
            _ = try APICall.noNUL(text, field: "body")
            request.headerFields[.contentType] = "application/yaml"
            return HTTPBody(data)
        }
    }

    /// Query parameters and path names: no NUL, and of the document's type; a run id is a UUID.
    static func checkParameters(_ request: HTTPRequest, _ metadata: ServerRequestMetadata, operationID: String) throws {
        for (name, raw) in metadata.pathParameters {
            let value = String(raw).removingPercentEncoding ?? String(raw)
            _ = try APICall.noNUL(value, field: name)
            if name == "id", UUID(uuidString: value) == nil {
                throw KajiError(.runNotFound, "no run with id '\(value)' (a run id is a UUID)", field: "run")
            }
        }
        guard let path = request.path, let mark = path.firstIndex(of: "?") else { return }
        let items = URLComponents(string: "http://h/?" + path[path.index(after: mark)...].replacingOccurrences(of: "+", with: "%20"))?.queryItems ?? []
        let types = QueryParameterTypes.shared[operationID] ?? [:]
        for item in items {
            let value = try APICall.noNUL(item.value ?? "", field: item.name)
            try types[item.name]?.check(value, name: item.name)
        }
    }
}

/// How an operation reads its body.
enum APIBody: Sendable {
    /// It has none (a body sent is ignored).
    case none
    /// A JSON object of the operation's schema (empty: `{}`).
    case json
    /// A cluster manifest: YAML or JSON text.
    case manifest
}

/// An operation of openapi.yaml as the gate sees it.
struct APIOperation: Sendable {
    /// The least role that may call it (nil: no token needed).
    let role: APIRole?
    let body: APIBody
}

/// The type of a query parameter as the document gives it: the generated code decodes the value, and its
/// errors do not name the parameter, so the gate checks the value first.
enum QueryParameterType: Sendable, Equatable {
    case integer
    case boolean
    case dateTime
    case uuid
    case oneOf([String])

    func check(_ value: String, name: String) throws {
        switch self {
        case .integer:
            guard Int(value) != nil else { throw KajiError(.invalidArgument, "\(name) '\(value)' is not an integer", field: name) }
        case .boolean:
            guard ["true", "false"].contains(value) else { throw KajiError(.invalidArgument, "\(name) '\(value)' must be true or false", field: name) }
        case .dateTime:
            guard KajiJSON.parseDate(value) != nil else { throw KajiError(.invalidArgument, "\(name) '\(value)' is not an ISO 8601 time", field: name) }
        case .uuid:
            guard UUID(uuidString: value) != nil else { throw KajiError(.invalidArgument, "\(name) '\(value)' is not a UUID", field: name) }
        case .oneOf(let values):
            guard values.contains(value) else {
                throw KajiError(.invalidArgument, "\(name) '\(value)' is not one of \(values.joined(separator: ", "))", field: name)
            }
        }
    }
}

/// The typed query parameters of each operation, read from openapi.yaml once.
enum QueryParameterTypes {
    static let shared: [String: [String: QueryParameterType]] = (try? read()) ?? [:]

    static func read() throws -> [String: [String: QueryParameterType]] {
        guard let document = try JSONSerialization.jsonObject(with: Data(try OpenAPIDocument.json().utf8)) as? [String: Any],
              let paths = document["paths"] as? [String: [String: Any]] else { return [:] }
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        func resolve(_ schema: [String: Any]) -> [String: Any] {
            guard let ref = schema["$ref"] as? String, let name = ref.split(separator: "/").last,
                  let target = schemas[String(name)] as? [String: Any] else { return schema }
            return resolve(target)
        }
        var result: [String: [String: QueryParameterType]] = [:]
        for item in paths.values {
            for case let operation as [String: Any] in item.values {
                guard let id = operation["operationId"] as? String else { continue }
                var types: [String: QueryParameterType] = [:]
                for case let parameter as [String: Any] in operation["parameters"] as? [Any] ?? [] where parameter["in"] as? String == "query" {
                    guard let name = parameter["name"] as? String, let raw = parameter["schema"] as? [String: Any] else { continue }
                    let schema = resolve(raw)
                    if let values = schema["enum"] as? [String] {
                        types[name] = .oneOf(values)
                    } else if schema["type"] as? String == "integer" {
                        types[name] = .integer
                    } else if schema["type"] as? String == "boolean" {
                        types[name] = .boolean
                    } else if schema["format"] as? String == "date-time" {
                        types[name] = .dateTime
                    } else if schema["format"] as? String == "uuid" {
                        types[name] = .uuid
                    }
                }
                result[id] = types
            }
        }
        return result
    }
}

/// The fields of each operation's JSON request body (of every variant of a `oneOf`), read from
/// openapi.yaml once, for the error that refuses an unknown one.
enum RequestFields {
    static let shared: [String: [String]] = (try? read()) ?? [:]

    static func read() throws -> [String: [String]] {
        guard let document = try JSONSerialization.jsonObject(with: Data(try OpenAPIDocument.json().utf8)) as? [String: Any],
              let paths = document["paths"] as? [String: [String: Any]] else { return [:] }
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        func fields(_ schema: [String: Any]) -> Set<String> {
            if let ref = schema["$ref"] as? String, let name = ref.split(separator: "/").last, let target = schemas[String(name)] as? [String: Any] {
                return fields(target)
            }
            var result = Set(((schema["properties"] as? [String: Any]) ?? [:]).keys)
            for case let variant as [String: Any] in (schema["oneOf"] as? [Any] ?? []) + (schema["allOf"] as? [Any] ?? []) {
                result.formUnion(fields(variant))
            }
            return result
        }
        var result: [String: [String]] = [:]
        for item in paths.values {
            for case let operation as [String: Any] in item.values {
                guard let id = operation["operationId"] as? String,
                      let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any],
                      let schema = (content["application/json"] as? [String: Any])?["schema"] as? [String: Any] else { continue }
                result[id] = fields(schema).sorted()
            }
        }
        return result
    }
}
