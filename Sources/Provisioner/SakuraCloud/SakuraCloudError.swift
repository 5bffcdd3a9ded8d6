/// A failed SAKURA Cloud call. Keeps the API's `error_code`, HTTP status and `serial`; never the secret.
public struct SakuraCloudError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The API answered with an error status.
        case api(status: Int, code: String?, serial: String?, message: String?)
        /// No answer: connection refused or reset, or the request timed out.
        case transport(String)
        /// The answer could not be read.
        case invalidResponse(String)
        /// The client is not set up right (e.g. missing credentials, bad base URL).
        case configuration(String)
        /// A disk copy ended `failed`.
        case diskCopyFailed(diskID: SakuraID)
    }

    public var kind: Kind
    /// e.g. `POST`.
    public var method: String
    /// Path below the zone root, e.g. `/server/113000000101/power`.
    public var path: String
    public var zone: String
    /// Attempts made before giving up (1 = no retry).
    public var attempts: Int
    /// Seconds the server asked to wait (`Retry-After`), when it did.
    public var retryAfterSeconds: Int?
    /// True for a transport error that provably happened before the request left: no connection could be
    /// made (refused, unreachable, name not resolved, connect timeout). Only then may a call that is not
    /// idempotent be sent again. Default false.
    public var notDelivered: Bool

    public init(
        kind: Kind, method: String = "", path: String = "", zone: String = "", attempts: Int = 1,
        retryAfterSeconds: Int? = nil, notDelivered: Bool = false
    ) {
        self.kind = kind
        self.method = method
        self.path = path
        self.zone = zone
        self.attempts = attempts
        self.retryAfterSeconds = retryAfterSeconds
        self.notDelivered = notDelivered
    }

    /// HTTP status of an API error.
    public var status: Int? {
        if case .api(let status, _, _, _) = kind { return status }
        return nil
    }

    /// The API's `error_code`, e.g. `still_creating`.
    public var code: String? {
        if case .api(_, let code, _, _) = kind { return code }
        return nil
    }

    /// The API's `serial` of the failed request (quote it to SAKURA support).
    public var serial: String? {
        if case .api(_, _, let serial, _) = kind { return serial }
        return nil
    }

    /// Whether the client may send the same call again: 503 and 423 answers and transport errors, exactly
    /// what the official Go client retries (iaas-api-go `client.go` `defaultCheckRetryStatusCodes`,
    /// api-client-go `factory.go` `checkRetryFn`, which falls back to go-retryablehttp's policy for transport
    /// errors). 429, 500, 502, 504 and every 4xx are not retried. A call that is not idempotent is re-sent
    /// on a transport error only when ``notDelivered``.
    public var isRetryable: Bool {
        switch kind {
        case .api(let status, _, _, _): return status == 503 || status == 423
        case .transport: return true
        case .invalidResponse, .configuration, .diskCopyFailed: return false
        }
    }

    /// Whether a non-GET call may have been carried out although it failed (lost answer, 504, 5xx).
    public var mayHaveRun: Bool {
        switch kind {
        case .transport, .invalidResponse: return true
        case .api(let status, _, _, _): return status >= 500
        case .configuration, .diskCopyFailed: return false
        }
    }

    /// True for 404 answers.
    public var isNotFound: Bool { status == 404 }

    public var description: String {
        let call = method.isEmpty ? "SAKURA Cloud" : "SAKURA Cloud \(method) \(path) in zone \(zone)"
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        switch kind {
        case .api(let status, let code, let serial, let message):
            var text = "\(call) failed\(tries): HTTP \(status)"
            if let code { text += " \(code)" }
            if let message, !message.isEmpty { text += ": \(message)" }
            if let serial { text += " (serial \(serial))" }
            return text
        case .transport(let reason):
            return "\(call) got no answer\(tries): \(reason)"
        case .invalidResponse(let reason):
            return "\(call) answered something unreadable: \(reason)"
        case .configuration(let reason):
            return "SAKURA Cloud client is misconfigured: \(reason)"
        case .diskCopyFailed(let diskID):
            return "SAKURA Cloud disk \(diskID) in zone \(zone) failed to copy (Availability `failed`); delete it and create it again"
        }
    }
}
