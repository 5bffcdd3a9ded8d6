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

    public init(
        kind: Kind, method: String = "", path: String = "", zone: String = "", attempts: Int = 1,
        retryAfterSeconds: Int? = nil
    ) {
        self.kind = kind
        self.method = method
        self.path = path
        self.zone = zone
        self.attempts = attempts
        self.retryAfterSeconds = retryAfterSeconds
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

    /// Whether trying the same call again later can succeed: 503, 423, 429, 504, 409 `still_creating` and
    /// transport errors. 400, 401, 404 and other 409s are final.
    public var isRetryable: Bool {
        switch kind {
        case .api(let status, let code, _, _):
            return [423, 429, 500, 502, 503, 504].contains(status) || code == "still_creating"
                || code == "server_is_cleaning"
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
