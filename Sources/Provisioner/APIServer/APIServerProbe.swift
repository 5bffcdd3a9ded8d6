import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What one `GET /readyz?verbose=true` found.
public struct ReadyzProbeResult: Sendable, Equatable {
    /// Why the API server gave no readyz answer.
    public enum Failure: String, Sendable, Codable, Equatable {
        /// No connection: refused, unreachable, no route, bad address.
        case connect
        /// The TLS handshake failed, e.g. the certificate is not signed by the pinned CA, or does not name
        /// the address dialled.
        case tls
        /// No answer within the timeout (connecting, handshaking or waiting for the response).
        case timeout
        /// An answer that is not a readyz report (e.g. 401, 403, 404, or a body without the verdict line).
        case http
        /// Nothing to check with (no endpoint, or no CA pinned).
        case configuration
    }

    /// The HTTP status, when there was an answer.
    public var httpStatus: Int?
    /// The parsed report, when the answer was one (200 or 500 with the verdict line).
    public var report: ReadyzReport?
    /// Why there is no report; nil when there is one.
    public var failure: Failure?
    /// In words, starting with the failure's kind (`connect: …`, `tls: …`), or for a report that did not
    /// pass, `readyz check failed: etcd, …`; nil when readyz passed.
    public var reason: String?
    /// From the start of the request to the end of the answer (or the failure).
    public var duration: Duration

    public init(httpStatus: Int?, report: ReadyzReport?, failure: Failure?, reason: String?, duration: Duration) {
        self.httpStatus = httpStatus
        self.report = report
        self.failure = failure
        self.reason = reason
        self.duration = duration
    }

    /// The API server answered with a readyz report (whatever its verdict).
    public var up: Bool { failure == nil && report != nil }
    /// HTTP 200 and `readyz check passed`.
    public var passed: Bool { up && httpStatus == 200 && (report?.passed ?? false) }
}

/// Calls `GET https://HOST:PORT/readyz?verbose=true` on a cluster's API endpoint with its CA pinned: the
/// server's certificate must chain to that CA alone (no system roots) and name the address dialled. A fresh
/// connection per call (`Connection: close`), no redirects, no retries of a failed connection: each call is
/// one honest probe. Anonymous, as kube-apiserver allows `/readyz` by default.
public final class APIServerProbe: Sendable {
    private let http: HTTPClient

    /// - Parameter connectTimeout: at most this long to connect (default 5 s); the whole call is bounded by
    ///   the `timeout` of ``readyz(endpoint:caPEM:timeout:overrides:)``.
    public init(connectTimeout: Duration = .seconds(5)) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.httpVersion = .http1Only
        configuration.timeout = .init(connect: .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000
                                                             + connectTimeout.components.attoseconds / 1_000_000_000))
        configuration.connectionPool = .init(idleTimeout: .seconds(1))
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the client's connections. Call it once, when done.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Checks a PEM text holds at least one X.509 certificate (what ``readyz(endpoint:caPEM:timeout:overrides:)``
    /// pins). Returns nil when it does, else what is wrong.
    public static func problem(withCA pem: String) -> String? {
        do {
            let certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
            return certificates.isEmpty ? "holds no certificate" : nil
        } catch {
            return "is not a PEM certificate (\(error))"
        }
    }

    /// One probe of `endpoint` (`https://VIP:6443`), dialled through `overrides`, with `caPEM` as the only
    /// trusted root, bounded by `timeout`. Never throws: every failure is a result with its reason.
    public func readyz(endpoint: String, caPEM: String?, timeout: Duration = .seconds(10),
                       overrides: APIEndpointOverrides = .none) async -> ReadyzProbeResult {
        let clock = ContinuousClock()
        let started = clock.now
        func failed(_ failure: ReadyzProbeResult.Failure, _ reason: String, status: Int? = nil) -> ReadyzProbeResult {
            ReadyzProbeResult(httpStatus: status, report: nil, failure: failure, reason: "\(failure.rawValue): \(reason)", duration: clock.now - started)
        }
        guard let hostPort = Self.hostPort(of: endpoint) else {
            return failed(.configuration, "the API endpoint \(endpoint) is not https://HOST:PORT")
        }
        guard let caPEM, !caPEM.isEmpty else {
            return failed(.configuration, "no CA is pinned for \(endpoint) (it is recorded from admin.conf when the cluster is provisioned)")
        }
        let trusted: [NIOSSLCertificate]
        do {
            trusted = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8))
        } catch {
            return failed(.configuration, "the pinned CA of \(endpoint) is not a PEM certificate")
        }
        let dialled = overrides.address(for: hostPort) ?? hostPort
        let via = dialled == hostPort ? "" : " via \(dialled)"
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(trusted)
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        var request = HTTPClientRequest(url: "https://\(dialled)/readyz?verbose=true")
        request.tlsConfiguration = tls
        request.headers.add(name: "Accept", value: "text/plain")
        request.headers.add(name: "Connection", value: "close")
        request.headers.add(name: "User-Agent", value: "kaji-api-health")
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        do {
            let response = try await http.execute(request, deadline: .now() + .nanoseconds(nanoseconds))
            let body = try await response.body.collect(upTo: 1 << 20)
            let text = String(buffer: body)
            let status = Int(response.status.code)
            let report = ReadyzReport.parse(text)
            guard (status == 200 || status == 500), report.verdict != nil else {
                let first = text.split(whereSeparator: \.isNewline).first.map { String($0.prefix(200)) } ?? ""
                return failed(.http, "HTTP \(status) from \(endpoint)\(via) is not a readyz report\(first.isEmpty ? "" : ": \(first)")", status: status)
            }
            var reason: String?
            if !(status == 200 && report.passed) {
                let failing = report.failing
                reason = failing.isEmpty ? "readyz check failed (HTTP \(status))" : "readyz check failed: \(failing.joined(separator: ", "))"
            }
            return ReadyzProbeResult(httpStatus: status, report: report, failure: nil, reason: reason, duration: clock.now - started)
        } catch {
            let (failure, words) = Self.classify(error)
            return failed(failure, "\(words) (\(endpoint)\(via))")
        }
    }

    /// `https://HOST:PORT[/…]` as `HOST:PORT` (port 443 when none is given), or nil.
    static func hostPort(of endpoint: String) -> String? {
        guard let url = URL(string: endpoint), url.scheme == "https", let host = url.host, !host.isEmpty else { return nil }
        return "\(host):\(url.port ?? 443)"
    }

    /// A failed call's kind and a short description.
    static func classify(_ error: any Error) -> (ReadyzProbeResult.Failure, String) {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                return (.timeout, "no answer in time (\(error))")
            case .remoteConnectionClosed:
                return (.http, "the server closed the connection without an answer")
            default:
                return (.http, "\(error)")
            }
        }
        if let error = error as? NIOSSLError { return (.tls, Self.tlsWords(error)) }
        if error is BoringSSLError || error is NIOSSLExtraError { return (.tls, "\(error)") }
        if let error = error as? NIOConnectionError {
            let inner = error.connectionErrors.first.map { "\($0.error)" } ?? "\(error)"
            return (.connect, Self.connectWords(inner))
        }
        if let error = error as? IOError { return (.connect, Self.connectWords("\(error)")) }
        if let error = error as? ChannelError {
            if case .connectTimeout = error { return (.timeout, "connect timed out") }
            return (.connect, "\(error)")
        }
        let text = "\(error)"
        if text.localizedCaseInsensitiveContains("refused") || text.localizedCaseInsensitiveContains("unreachable") {
            return (.connect, Self.connectWords(text))
        }
        return (.connect, text)
    }

    private static func connectWords(_ text: String) -> String {
        if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
        if text.localizedCaseInsensitiveContains("unreachable") { return "network unreachable" }
        return text
    }

    private static func tlsWords(_ error: NIOSSLError) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "certificate verify failed: the server's certificate is not signed by the pinned CA (\(text))" }
        return text
    }
}
