import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of SAKURA Cloud's IaaS API (one zone), with retries, a client-side rate limit and serialised
/// power calls.
///
/// Retries, as the official Go client (iaas-api-go `client.go`, api-client-go `factory.go`): only 503 and
/// 423 answers and transport errors, with the configuration's backoff (honouring `Retry-After`). Reads and
/// idempotent calls (GET, deletes, attach/connect) are re-sent on all three. Calls that are not idempotent
/// (power, disk edit, updates) are re-sent on 503/423, but after a transport error only when the request
/// provably never left (no connection could be made). A POST (a create) is never re-sent by itself: its
/// failure comes back to the caller, and ``findOrCreate(operation:find:create:)`` looks the create's
/// `kaji-op` tag up and adopts what exists before creating again.
public final class SakuraCloudClient: Sendable {
    public let configuration: SakuraCloudConfiguration
    let httpClient: HTTPClient
    let logger: Logger
    let authorization: String
    /// Boots sent per server, for ``bootFollowUp(_:)``.
    let boots = BootMemo()

    /// - Parameters:
    ///   - httpClient: default `HTTPClient.shared`.
    ///   - logger: default: a logger labelled `kaji.sakuracloud` (it never logs credentials or bodies).
    public init(
        configuration: SakuraCloudConfiguration, httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "kaji.sakuracloud")
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        let credentials = "\(configuration.credentials.accessToken):\(configuration.credentials.accessTokenSecret)"
        self.authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    public var zone: String { configuration.zone }

    /// Whether a failed attempt may be sent again by ``send(_:_:query:body:)``.
    enum Resend {
        /// Idempotent calls (GET, deletes, attach/connect): re-send on 503, 423 and transport errors.
        case whenRetryable
        /// Calls that must not run twice (power, disk edit, updates): re-send on 503 and 423, and after a
        /// transport error only when the request never left.
        case ifNotDelivered
        /// POST creates: never re-send.
        case never

        func allows(_ error: SakuraCloudError) -> Bool {
            switch self {
            case .never: return false
            case .whenRetryable: return error.isRetryable
            case .ifNotDelivered:
                if case .transport = error.kind { return error.notDelivered }
                return error.isRetryable
            }
        }
    }

    /// Sends one call and decodes the answer, retrying per ``Resend``.
    func send<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, query: (any Encodable & Sendable)? = nil,
        body: (any Encodable & Sendable)? = nil, resend: Resend = .whenRetryable, as type: Response.Type
    ) async throws -> Response {
        let data = try await sendRaw(method, path, query: query, body: body, resend: resend)
        do {
            return try JSONDecoder().decode(Response.self, from: data)
        } catch {
            throw SakuraCloudError(
                kind: .invalidResponse("\(Response.self) did not decode: \(error)"), method: method.rawValue,
                path: path, zone: zone)
        }
    }

    /// Sends one call and returns the raw answer body of a 2xx status.
    /// - Parameter doneCodes: error codes that mean "already done" when they answer a re-sent call (the first
    ///   attempt ran but its answer was lost), e.g. `res_already_connected`; such an answer counts as success.
    func sendRaw(
        _ method: HTTPMethod, _ path: String, query: (any Encodable & Sendable)? = nil,
        body: (any Encodable & Sendable)? = nil, resend: Resend = .whenRetryable, doneCodes: Set<String> = []
    ) async throws -> Data {
        let request = try makeRequest(method, path, query: query, body: body)
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await attemptOnce(request, method: method, path: path, attempt: attempt)
            } catch var error as SakuraCloudError {
                error.attempts = attempt
                if attempt > 1, let code = error.code, doneCodes.contains(code) {
                    return Data()
                }
                let retries = attempt - 1
                guard resend.allows(error), retries < configuration.retry.maxRetries else { throw error }
                let wait = configuration.retry.wait(beforeRetry: retries, retryAfterSeconds: error.retryAfterSeconds)
                logger.debug(
                    "retrying SAKURA Cloud call",
                    metadata: ["method": "\(method.rawValue)", "path": "\(path)", "attempt": "\(attempt)",
                               "error": "\(error)"])
                try await Task.sleep(for: wait)
            }
        }
    }

    private func makeRequest(
        _ method: HTTPMethod, _ path: String, query: (any Encodable & Sendable)?, body: (any Encodable & Sendable)?
    ) throws -> HTTPClientRequest {
        var url = configuration.zoneRoot + path
        if let query {
            let document: String
            if let find = query as? FindQuery {
                document = find.sdkDocument
            } else {
                document = String(decoding: try encodeJSON(query, method: method, path: path), as: UTF8.self)
            }
            url += "?" + FindQuery.urlSafe(document)
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "X-Requested-With", value: "XMLHttpRequest")
        request.headers.add(name: "X-Sakura-Bigint-As-Int", value: "1")
        request.headers.add(name: "User-Agent", value: "kaji-provisioner/1")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            let json = try encodeJSON(body, method: method, path: path)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        return request
    }

    private func encodeJSON(_ value: any Encodable, method: HTTPMethod, path: String) throws -> Data {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(value)
        } catch {
            throw SakuraCloudError(
                kind: .configuration("request body did not encode: \(error)"), method: method.rawValue, path: path,
                zone: zone)
        }
    }

    private func attemptOnce(
        _ request: HTTPClientRequest, method: HTTPMethod, path: String, attempt: Int
    ) async throws -> Data {
        try await configuration.rateLimiter.acquire()
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            let timeout = TimeAmount.nanoseconds(
                configuration.requestTimeout.components.seconds * 1_000_000_000
                    + configuration.requestTimeout.components.attoseconds / 1_000_000_000)
            response = try await httpClient.execute(request, timeout: timeout)
            buffer = try await response.body.collect(upTo: 16 << 20)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw SakuraCloudError(
                kind: .transport(Self.describeTransport(error)), method: method.rawValue, path: path, zone: zone,
                notDelivered: Self.isConnectFailure(error))
        }
        let data = Data(buffer.readableBytesView)
        let status = Int(response.status.code)
        if (200..<300).contains(status) { return data }
        let details = try? JSONDecoder().decode(APIErrorBody.self, from: data)
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        throw SakuraCloudError(
            kind: .api(status: status, code: details?.errorCode, serial: details?.serial, message: details?.errorMessage),
            method: method.rawValue, path: path, zone: zone, retryAfterSeconds: retryAfter)
    }

    /// Whether a transport error happened before any byte of the request was sent: the connection was
    /// refused, the host unreachable or unresolvable, or connecting timed out.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout
        }
        if error is NIOConnectionError { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode)
        }
        return false
    }

    /// A transport error's description without request details (never headers).
    static func describeTransport(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return "\(error)"
        }
        return String(describing: error)
    }
}

/// SAKURA Cloud's error body.
struct APIErrorBody: Decodable {
    var errorCode: String?
    var errorMessage: String?
    var serial: String?
    var status: String?

    enum CodingKeys: String, CodingKey {
        case errorCode = "error_code"
        case errorMessage = "error_msg"
        case serial
        case status
    }
}
