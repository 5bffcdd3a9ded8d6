import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime
import Workflows

extension KajiError.Code {
    /// The request body is not JSON (or not the YAML or JSON a manifest route reads) (HTTP 400).
    public static let malformedBody = KajiError.Code("malformed_body")
    /// The request body is larger than the server takes (HTTP 413).
    public static let payloadTooLarge = KajiError.Code("payload_too_large")
    /// The request's Content-Type is not one the route reads (HTTP 415).
    public static let unsupportedMediaType = KajiError.Code("unsupported_media_type")
    /// No route with that method and path (HTTP 404).
    public static let routeNotFound = KajiError.Code("route_not_found")
    /// The server lacks configuration the route needs, e.g. a secret key (HTTP 503).
    public static let notConfigured = KajiError.Code("not_configured")
}

/// The one table from an error's code to an HTTP status. A code not listed here is a server fault (500),
/// and its message is not sent (it may come from a driver and name internals).
enum ErrorStatus {
    static let table: [KajiError.Code: HTTPResponse.Status] = [
        .malformedBody: .badRequest,
        .unauthenticated: .unauthorized,
        .permissionDenied: .forbidden,
        .routeNotFound: .notFound,
        .runNotFound: .notFound,
        .clusterNotFound: .notFound,
        .scheduleNotFound: .notFound,
        .secretNotFound: .notFound,
        .tokenNotFound: .notFound,
        .invalidState: .conflict,
        .alreadyExists: .conflict,
        .payloadTooLarge: .contentTooLarge,
        .unsupportedMediaType: .unsupportedMediaType,
        .invalidArgument: .unprocessableContent,
        .unknownKind: .unprocessableContent,
        .invalidInput: .unprocessableContent,
        .manifestInvalid: .unprocessableContent,
        .databaseUnavailable: .serviceUnavailable,
        .schemaOutdated: .serviceUnavailable,
        .notConfigured: .serviceUnavailable,
    ]

    static func status(for code: KajiError.Code) -> HTTPResponse.Status? { table[code] }

    /// The error document and status for any error a route threw.
    static func response(for error: any Error, logger: Logger) -> Response {
        // The generated server wraps what its operations, the gate and its decoding threw.
        if let error = error as? ServerError {
            if let decoding = error.underlyingError as? DecodingError, error.operationInput == nil {
                return response(for: requestError(decoding, operationID: error.operationID), logger: logger)
            }
            if error.operationInput == nil, !(error.underlyingError is KajiError), (400..<500).contains(error.httpStatus.code) {
                // A request the generated server refused before the operation ran (the gate checks most
                // of what it could refuse first): its description says what is wrong with the request.
                let code: KajiError.Code = [406, 415].contains(error.httpStatus.code) ? .unsupportedMediaType : error.httpStatus.code == 400 ? .malformedBody : .invalidArgument
                return response(for: KajiError(code, "the request does not match /api/v1/openapi.json: \(error.causeDescription)"), logger: logger)
            }
            if !(error.underlyingError is ServerError) {
                return response(for: error.underlyingError, logger: logger)
            }
        }
        if let error = error as? KajiError, let status = status(for: error.code) {
            return JSONBody.response(status, ErrorDocument(error))
        }
        if let refused = error as? ApplyRefused {
            let first = refused.problems.first
            let message = refused.problems.map(\.description).joined(separator: "; ")
            let error = KajiError(.manifestInvalid, "cluster \(refused.cluster): \(message)", field: first?.field)
            return JSONBody.response(.unprocessableContent, ManifestRefusal(error: error, cluster: refused.cluster, problems: refused.problems))
        }
        if error is NIOTooManyBytesError {
            return JSONBody.response(.contentTooLarge, ErrorDocument(KajiError(.payloadTooLarge, "body is larger than \(KajiServer.maxBodyBytes) bytes", field: "body")))
        }
        if let http = error as? HTTPError, http.status == .notFound {
            return JSONBody.response(.notFound, ErrorDocument(KajiError(.routeNotFound, "no such route: see /api/v1/openapi.json")))
        }
        if let http = error as? HTTPError, http.status == .methodNotAllowed {
            return JSONBody.response(.methodNotAllowed, ErrorDocument(KajiError(.routeNotFound, "method not allowed on this path: see /api/v1/openapi.json")))
        }
        logger.error("request failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
        return JSONBody.response(.internalServerError, ErrorDocument(KajiError(KajiError.Code("internal"), "the server failed; its log says why")))
    }
}

extension ErrorStatus {
    /// A request the generated server could not decode: the body is not JSON (400), or not of the
    /// operation's schema (422, naming the field: an unknown one, or the one of the wrong type).
    static func requestError(_ error: DecodingError, operationID: String) -> KajiError {
        let field = APICall.field(of: error)
        if case .dataCorrupted(let context) = error {
            if context.codingPath.isEmpty, context.underlyingError != nil {
                return KajiError(.malformedBody, "body is not valid JSON", field: "body")
            }
            if context.debugDescription.hasPrefix("Additional properties are disabled"), let field {
                let known = context.codingPath.count == 1 ? RequestFields.shared[operationID] ?? [] : []
                let list = known.isEmpty ? "" : " (fields: \(known.joined(separator: ", ")))"
                return KajiError(.invalidArgument, "\(field) is not a field of this request\(list)", field: field)
            }
        }
        if case .typeMismatch(let type, let context) = error, context.codingPath.isEmpty, "\(type)".hasPrefix("Dictionary") {
            return KajiError(.invalidArgument, "body must be a JSON object", field: "body")
        }
        return KajiError(.invalidArgument, "body: \(KajiJSON.describe(error))", field: field ?? "body")
    }
}

/// A refused manifest: the error document with every problem (field, reason, line) and the cluster's
/// name, so that a client lists them as `kaji apply` does.
struct ManifestRefusal: Encodable {
    let error: KajiError
    let cluster: String
    let problems: [ManifestProblem]
}

/// Catches every error of the routes below and answers with `{"error": {"code", "message", "field"}}`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return ErrorStatus.response(for: error, logger: logger)
        }
    }
}

/// JSON responses, encoded as the CLI's `--json` is (ISO 8601 dates with milliseconds).
enum JSONBody {
    static func response<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) -> Response {
        let text = (try? KajiJSON.string(value)) ?? #"{"error":{"code":"internal","message":"the response could not be encoded"}}"#
        return raw(status, text, contentType: "application/json; charset=utf-8")
    }

    static func raw(_ status: HTTPResponse.Status, _ text: String, contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
