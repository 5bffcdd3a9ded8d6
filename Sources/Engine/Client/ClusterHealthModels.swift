import Foundation

/// Why a cluster's API server gave no readyz answer (`cluster_health.failure`, a closed set).
public enum ClusterHealthFailure: String, Codable, Sendable, CaseIterable, StoredEnum {
    /// No connection: refused, unreachable.
    case connect
    /// The TLS handshake failed (not the pinned CA, or a certificate that does not name the address).
    case tls
    /// No answer within the check's timeout.
    case timeout
    /// An answer that is not a readyz report (401, 403, 404, …).
    case http
    /// Nothing to check with: no API endpoint or no pinned CA.
    case configuration
}

/// One readyz check within a result: a `[+]`/`[-]` line.
public struct ClusterHealthCheck: Codable, Sendable, Equatable {
    /// e.g. `etcd`, `poststarthook/rbac/bootstrap-roles`.
    public var name: String
    public var ok: Bool
    /// The rest of the line: `ok`, `excluded: ok`, or the failure text (`failed: reason withheld`).
    public var detail: String

    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// One API health check of one cluster, as stored.
public struct ClusterHealthResult: Codable, Sendable, Equatable {
    public var cluster: String
    /// When it was recorded (the database's clock, so results from different workers compare).
    public var checkedAt: Date
    /// The worker that checked (`worker:ID`).
    public var checkedBy: String
    /// The API server answered with a readyz report (HTTP 200 or 500 with the verdict line).
    public var up: Bool
    /// HTTP 200 and `readyz check passed`.
    public var passed: Bool
    /// Why there was no readyz answer; nil when `up`.
    public var failure: ClusterHealthFailure?
    /// In words (`connect: connection refused (…)`, `readyz check failed: etcd`); nil when it passed.
    public var reason: String?
    public var httpStatus: Int?
    /// The call's latency, seconds.
    public var durationSeconds: Double
    /// Every `[+]`/`[-]` line, in the server's order (empty when not `up`).
    public var checks: [ClusterHealthCheck]

    public init(cluster: String, checkedAt: Date = Date(), checkedBy: String, up: Bool, passed: Bool, failure: ClusterHealthFailure?,
                reason: String?, httpStatus: Int?, durationSeconds: Double, checks: [ClusterHealthCheck]) {
        self.cluster = cluster
        self.checkedAt = checkedAt
        self.checkedBy = checkedBy
        self.up = up
        self.passed = passed
        self.failure = failure
        self.reason = reason
        self.httpStatus = httpStatus
        self.durationSeconds = durationSeconds
        self.checks = checks
    }

    /// The result summed up; a change of it is a change of the cluster's health: `up`, `failing: etcd, log`,
    /// `not passing (HTTP 500)`, `down: connect`.
    public var status: String {
        if let failure { return "down: \(failure.rawValue)" }
        if passed { return "up" }
        let failing = checks.filter { !$0.ok }.map(\.name)
        return failing.isEmpty ? "not passing (HTTP \(httpStatus.map(String.init) ?? "?"))" : "failing: \(failing.joined(separator: ", "))"
    }
}

/// A cluster's latest API health result and its last change (`kaji cluster show`, `/metrics`).
public struct ClusterHealth: Codable, Sendable, Equatable {
    public var cluster: String
    public var latest: ClusterHealthResult
    /// `latest.status`, since `statusSince`.
    public var status: String
    /// When the status became what it is (the first result with it).
    public var statusSince: Date
    /// The status before that; nil when it has not changed since the first check.
    public var previousStatus: String?
    /// When a worker may check it next.
    public var nextCheckAt: Date

    public init(cluster: String, latest: ClusterHealthResult, status: String, statusSince: Date, previousStatus: String?, nextCheckAt: Date) {
        self.cluster = cluster
        self.latest = latest
        self.status = status
        self.statusSince = statusSince
        self.previousStatus = previousStatus
        self.nextCheckAt = nextCheckAt
    }
}

/// A cluster a health checker may check, and how often.
public struct ClusterHealthCandidate: Sendable, Equatable {
    public var cluster: String
    /// The cluster's `healthCheck.interval`.
    public var interval: Duration

    public init(cluster: String, interval: Duration) {
        self.cluster = cluster
        self.interval = interval
    }
}

/// A check a worker has claimed: it alone may record this interval's result, with `token`.
public struct ClusterHealthClaim: Sendable, Equatable {
    public var cluster: String
    /// `https://VIP:6443`, nil when the inventory has none.
    public var apiEndpoint: String?
    /// The pinned cluster CA (PEM), nil when none was recorded.
    public var caCertificate: String?
    public var token: UUID

    public init(cluster: String, apiEndpoint: String?, caCertificate: String?, token: UUID) {
        self.cluster = cluster
        self.apiEndpoint = apiEndpoint
        self.caCertificate = caCertificate
        self.token = token
    }
}
