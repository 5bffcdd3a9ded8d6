import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1
import Workflows

/// The CLI through `kaji serve`: every operation is a call of the HTTP API (`/api/v1`) with the bearer
/// token, recorded by the server as the token's `token:NAME`. The server's error documents come back as
/// the same `KajiError`s the engine throws (a refused manifest as `ApplyRefused`). The token goes only into
/// the Authorization header: it is never printed, logged or put in an error, and redirects are not followed
/// (they could carry it elsewhere).
struct RemoteBackend: KajiBackend {
    /// `http(s)://HOST:PORT` (no trailing slash).
    let server: String
    let token: String
    let http: HTTPClient

    /// Runs `body` with a backend on `server`, shutting its HTTP client down afterwards.
    static func with<T: Sendable>(server: String, token: String, _ body: @Sendable (RemoteBackend) async throws -> T) async throws -> T {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(read: nil))
        let result: Result<T, any Error>
        do {
            result = .success(try await body(RemoteBackend(server: server, token: token, http: http)))
        } catch {
            result = .failure(error)
        }
        try? await http.shutdown()
        return try result.get()
    }

    static func configuration(read: TimeAmount?) -> HTTPClient.Configuration {
        HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: read))
    }

    // MARK: Calls

    /// One call: the answer decoded as `T` on a 2xx status; the error document as a thrown `KajiError`
    /// (or `ApplyRefused`) otherwise.
    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], json body: (some Encodable)? = Optional<Empty>.none,
                            raw: (data: Data, contentType: String)? = nil, as type: T.Type = T.self) async throws -> T {
        var request = HTTPClientRequest(url: try url(path, query: query))
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try KajiJSON.encoder().encode(body)))
        } else if let raw {
            request.headers.add(name: "Content-Type", value: raw.contentType)
            request.body = .bytes(ByteBuffer(bytes: raw.data))
        }
        let (status, data) = try await send(request)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: data) }
        do {
            return try ServerJSON.decoder().decode(T.self, from: data)
        } catch {
            throw KajiError(.serverAnswer, "the server's answer to \(method.rawValue) \(path) is not what this kaji expects (\(KajiJSON.describe(error))): are kaji and kaji serve the same version?")
        }
    }

    private func send(_ request: HTTPClientRequest) async throws -> (Int, Data) {
        do {
            let response = try await http.execute(request, timeout: .hours(1))
            let buffer = try await response.body.collect(upTo: 256 << 20)
            return (Int(response.status.code), Data(buffer.readableBytesView))
        } catch {
            throw unreachable(error)
        }
    }

    /// `server` + `/api/v1` + `path`, with the query's non-nil items.
    func url(_ path: String, query: [(String, String?)] = []) throws -> String {
        guard var components = URLComponents(string: server + "/api/v1" + path) else {
            throw KajiError(.invalidArgument, "cannot make a URL of --server and \(path)", field: "server")
        }
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty {
            components.queryItems = items
            // URLComponents leaves + as it is; a server reads it as a space.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        guard let text = components.string else { throw KajiError(.invalidArgument, "cannot make a URL of --server and \(path)", field: "server") }
        return text
    }

    /// A path segment (a name) percent-encoded.
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/;"))) ?? text
    }

    /// A transport failure as the CLI reports it: where, and why, never the token.
    func unreachable(_ error: any Error) -> any Error {
        if error is KajiError || error is CancellationError { return error }
        return KajiError(.serverUnavailable, "cannot reach kaji serve at \(server): \(Self.describe(error))")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "the connection timed out"
            case .readTimeout: return "the server stopped answering"
            case .remoteConnectionClosed: return "the server closed the connection"
            case .deadlineExceeded: return "no answer in time"
            default: return "\(error)"
            }
        }
        let text = "\(error)"
        if text.contains("Connection refused") || text.contains("connectionRefused") || text.contains("errno: 111") { return "connection refused (is kaji serve running there?)" }
        return text
    }

    /// The error an answer with `status` carries.
    static func failure(status: Int, body: Data) -> any Error {
        struct Answer: Decodable {
            var error: KajiError
            var cluster: String?
            var problems: [ManifestProblem]?
        }
        guard let answer = try? ServerJSON.decoder().decode(Answer.self, from: body) else {
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return KajiError(.serverAnswer, "the server answered HTTP \(status)\(text.isEmpty ? "" : ": \(text)")")
        }
        if let problems = answer.problems, !problems.isEmpty, answer.error.code == .manifestInvalid {
            return ApplyRefused(cluster: answer.cluster ?? "?", problems: problems)
        }
        return answer.error
    }

    struct Empty: Codable {}

    // MARK: Operations

    func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        struct Body: Encodable { var kind: String; var input: JSONValue; var queue: String; var priority: Int; var runAt: Date?; var idempotencyKey: String?; var concurrencyKey: String? }
        let body = Body(kind: request.kind, input: try Self.json(request.input, field: "input"), queue: request.queue, priority: request.priority,
                        runAt: request.runAt, idempotencyKey: request.idempotencyKey, concurrencyKey: request.concurrencyKey)
        return try await call(.POST, "/runs", json: body)
    }

    func runs(_ query: RunQuery) async throws -> RunPage {
        try await call(.GET, "/runs", query: [("state", query.state?.rawValue), ("kind", query.kind), ("queue", query.queue), ("concurrencyKey", query.concurrencyKey),
                                              ("actor", query.actor), ("cursor", query.cursor), ("limit", String(query.limit))])
    }

    func run(id: UUID) async throws -> RunDocument { try await call(.GET, "/runs/\(id.uuidString.lowercased())") }

    func follow(id: UUID, timeout: Duration, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws {
        try await RunEventFollower(backend: self).follow(id: id, timeout: timeout, onChange: onChange)
    }

    func retry(id: UUID) async throws -> RunSummary { try await call(.POST, "/runs/\(id.uuidString.lowercased())/retry") }

    func cancel(runID: UUID, reason: String?) async throws -> CancelReceipt {
        try await call(.POST, "/runs/\(runID.uuidString.lowercased())/cancel", json: ReasonBody(reason: reason))
    }

    func signal(runID: UUID, name: String, payload: String) async throws -> SignalReceipt {
        struct Body: Encodable { var name: String; var payload: JSONValue }
        return try await call(.POST, "/runs/\(runID.uuidString.lowercased())/signal", json: Body(name: name, payload: try Self.json(payload, field: "payload")))
    }

    func decide(runID: UUID, approved: Bool, reason: String?) async throws -> SignalReceipt {
        try await call(.POST, "/runs/\(runID.uuidString.lowercased())/\(approved ? "approve" : "reject")", json: ReasonBody(reason: reason))
    }

    struct ReasonBody: Encodable { var reason: String? }

    func addSchedule(_ request: ScheduleRequest) async throws -> ScheduleDocument {
        struct Body: Encodable { var name, cron, timezone, kind: String; var input: JSONValue; var queue: String; var priority: Int; var concurrencyKey: String? }
        return try await call(.POST, "/schedules", json: Body(name: request.name, cron: request.cron, timezone: request.timezone, kind: request.kind,
                                                              input: try Self.json(request.input, field: "input"), queue: request.queue,
                                                              priority: request.priority, concurrencyKey: request.concurrencyKey))
    }

    func schedules() async throws -> [ScheduleDocument] { try await call(.GET, "/schedules") }

    func setSchedule(name: String, paused: Bool) async throws -> ScheduleDocument {
        try await call(.POST, "/schedules/\(Self.segment(name))/\(paused ? "pause" : "resume")")
    }

    func removeSchedule(name: String) async throws {
        let _: [String: String] = try await call(.DELETE, "/schedules/\(Self.segment(name))")
    }

    func storeSecret(_ value: String, name: String) async throws -> StoredSecret {
        struct Body: Encodable { var name: String; var value: String }
        return try await call(.POST, "/secrets", json: Body(name: name, value: value))
    }

    func secrets(name: String?, limit: Int) async throws -> [SecretInfo] {
        try await call(.GET, "/secrets", query: [("name", name), ("limit", String(limit))])
    }

    func revealSecret(_ secret: Secret) async throws -> RevealedSecret {
        try await call(.POST, "/secrets/\(Self.segment(secret.reference))/reveal")
    }

    func audit(_ filter: AuditFilter, cursor: String?) async throws -> AuditPage {
        try await call(.GET, "/audit", query: [("run", filter.runID?.uuidString.lowercased()), ("actor", filter.actor), ("type", filter.type),
                                               ("since", filter.since.map(KajiJSON.format)), ("cursor", cursor), ("limit", String(filter.limit))])
    }

    func verifyAudit(expectHead: AuditHead?) async throws -> AuditVerification {
        try await call(.POST, "/audit/verify", query: [("expectHead", expectHead.map { "\($0.seq):\($0.hash)" })])
    }

    func prune(olderThan: String, batchSize: Int) async throws -> PruneResult {
        struct Body: Encodable { var olderThan: String; var batchSize: Int }
        return try await call(.POST, "/prune", json: Body(olderThan: olderThan, batchSize: batchSize))
    }

    func apply(_ spec: ClusterSpec, manifest: String, dryRun: Bool) async throws -> ApplyReport {
        try await call(.POST, "/manifests/apply", query: [("dryRun", dryRun ? "true" : nil)], raw: (Data(manifest.utf8), "application/yaml"))
    }

    func clusters() async throws -> [ClusterRecord] { try await call(.GET, "/clusters") }

    func cluster(named name: String) async throws -> ClusterRecordWithHealth {
        struct Health: Decodable { var health: ClusterHealth? }
        let path = "/clusters/\(Self.segment(name))"
        // One answer, read twice: the record's fields and its `health`.
        let answer: RawJSON = try await call(.GET, path)
        do {
            let record = try ServerJSON.decoder().decode(ClusterRecord.self, from: answer.data)
            let health = try ServerJSON.decoder().decode(Health.self, from: answer.data).health
            return ClusterRecordWithHealth(record: record, health: health)
        } catch {
            throw KajiError(.serverAnswer, "the server's answer to GET \(path) is not what this kaji expects (\(KajiJSON.describe(error))): are kaji and kaji serve the same version?")
        }
    }

    /// An answer kept as its JSON text.
    struct RawJSON: Decodable {
        let data: Data
        init(from decoder: any Decoder) throws {
            data = try JSONEncoder().encode(try JSONValue(from: decoder))
        }
    }

    func createToken(name: String, role: APIRole, expires: String?) async throws -> CreatedAPIToken {
        struct Body: Encodable { var name: String; var role: APIRole; var expires: String? }
        return try await call(.POST, "/tokens", json: Body(name: name, role: role, expires: expires))
    }

    func tokens() async throws -> [APITokenDocument] { try await call(.GET, "/tokens") }

    func revokeToken(name: String) async throws -> APITokenDocument { try await call(.POST, "/tokens/\(Self.segment(name))/revoke") }

    /// JSON text as a value to send; the error names `field` as the engine's would.
    static func json(_ text: String, field: String) throws -> JSONValue {
        do {
            return try KajiJSON.decode(JSONValue.self, from: text)
        } catch {
            throw KajiError(.invalidArgument, "\(field) is not valid JSON", field: field)
        }
    }
}

extension KajiError.Code {
    /// `kaji serve` cannot be reached (connection refused, timed out, closed).
    static let serverUnavailable = KajiError.Code("server_unavailable")
    /// The server answered with something other than the API's documents.
    static let serverAnswer = KajiError.Code("server_answer")
}
