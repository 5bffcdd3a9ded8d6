import Foundation
import Hummingbird
import NIOCore

/// Answers every HTTP request: `/_fake/*` administration, and the zone APIs under
/// `/cloud/zone/{zone}/api/cloud/1.1/` behind Basic auth, latency and fault injection.
struct SimResponder: HTTPResponder {
    typealias Context = SimContext

    static let apiSuffix = ["api", "cloud", "1.1"]
    let store: SimStore
    let apiServers: SimAPIServers
    let expectedAuthorization: String

    init(store: SimStore, configuration: SakuraSimulatorConfiguration, apiServers: SimAPIServers) {
        self.store = store
        self.apiServers = apiServers
        let credentials = "\(configuration.accessToken):\(configuration.accessTokenSecret)"
        expectedAuthorization = "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    func respond(to request: Request, context: SimContext) async throws -> Response {
        let segments = request.uri.path.split(separator: "/").map(String.init)
        if segments.first == "_fake" {
            var request = request
            return try await admin(segments: Array(segments.dropFirst()), request: &request)
        }
        guard segments.count >= 6, segments[0] == "cloud", segments[1] == "zone",
            Array(segments[3..<6]) == Self.apiSuffix
        else {
            return json(404, SimAPIError(status: 404, code: "resource_path_not_found", message: "unknown path \(request.uri.path)").body(serial: "0"))
        }
        let zone = segments[2]
        let delay = store.latency()
        if delay > 0 { try await Task.sleep(for: .milliseconds(Int(delay * 1000))) }
        guard request.headers[.authorization] == expectedAuthorization else {
            let error = SimAPIError(status: 401, code: "unauthorized", message: "認証に失敗しました: access token or secret is wrong")
            return json(401, error.body(serial: "0"))
        }
        guard SimState.zones.contains(zone) else {
            return json(404, SimAPIError.notFound("zone \(zone)").body(serial: "0"))
        }
        var query: JSONValue?
        if let raw = request.uri.query, !raw.isEmpty {
            store.recordQuery("\(request.method.rawValue) /\(segments.dropFirst(6).joined(separator: "/"))?\(raw)")
            // The API percent-decodes the query once and reads the JSON document.
            let decoded = raw.removingPercentEncoding ?? raw
            guard let parsed = try? JSONValue.parse(Data(decoded.utf8)) else {
                return json(400, SimAPIError.badRequest("invalid_format", "the query must be a JSON document").body(serial: "0"))
            }
            query = parsed
        }
        var mutable = request
        let buffer = try await mutable.collectBody(upTo: 4 << 20)
        var body: JSONValue?
        if buffer.readableBytes > 0 {
            guard let parsed = try? JSONValue.parse(Data(buffer.readableBytesView)) else {
                return json(400, SimAPIError.badRequest("invalid_format", "the body must be a JSON document").body(serial: "0"))
            }
            body = parsed
        }
        let outcome = store.process(
            method: request.method.rawValue, zone: zone, path: Array(segments.dropFirst(6)), query: query, body: body)
        switch outcome {
        case .reply(let status, let body, let retryAfter):
            let bigint = request.headers.contains {
                $0.name.canonicalName == "x-sakura-bigint-as-int" && $0.value == "1"
            }
            var response = json(status, bigint ? body.idsAsNumbers() : body)
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        case .reset:
            try await context.channel.close()
            return Response(status: .internalServerError)
        case .hang:
            try await Task.sleep(for: .seconds(600))
            return json(504, SimAPIError(status: 504, code: "apiproxy_timeout", message: "hung").body(serial: "0"))
        }
    }

    func admin(segments: [String], request: inout Request) async throws -> Response {
        switch (request.method, segments) {
        case (.get, ["state"]):
            return json(200, store.dump())
        case (.post, ["reset"]):
            store.reset()
            return json(200, ["is_ok": true])
        case (.post, ["advance"]):
            let seconds = request.uri.queryParameters.get("seconds").flatMap(Double.init) ?? 0
            store.clock.advance(seconds: seconds)
            return json(200, ["Now": .number(store.clock.now), "is_ok": true])
        case (.post, ["faults"]):
            let buffer = try await request.collectBody(upTo: 1 << 20)
            do {
                store.addFaults(try FaultRule.parseList(String(buffer: buffer)))
                return json(200, ["is_ok": true])
            } catch {
                return json(400, ["is_ok": false, "error_msg": .string(error.description)])
            }
        case (.delete, ["faults"]):
            store.clearFaults()
            return json(200, ["is_ok": true])
        case (_, let path) where path.first == "apiservers":
            return try await apiServerAdmin(Array(path.dropFirst()), request: &request)
        default:
            return json(404, ["is_ok": false, "error_msg": "unknown admin call; use GET /_fake/state, POST /_fake/reset, POST /_fake/advance?seconds=N, POST or DELETE /_fake/faults, /_fake/apiservers"])
        }
    }

    func json(_ status: Int, _ body: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=UTF-8"
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body.encoded())))
    }
}
