/// Where and how a ``SakuraCloudClient`` talks to the API.
public struct SakuraCloudConfiguration: Sendable {
    /// Scheme and host; default `https://secure.sakura.ad.jp`. The simulator's ``baseURL`` replaces it in tests.
    public var baseURL: String
    /// Zone whose API is called; default `is1a`. Zones: is1a, is1b, is1c, tk1a, tk1b, tk1v (Sandbox).
    public var zone: String
    public var credentials: SakuraCloudCredentials
    /// Time limit of one HTTP request; default 300 s (as the official Go client).
    public var requestTimeout: Duration
    /// Retries of 503/423/transport errors; default ``SakuraRetryPolicy/init()``.
    public var retry: SakuraRetryPolicy
    /// Client-side request rate; default ``SakuraRateLimiter/processWide`` (5 requests per second shared by
    /// every client of the process, as `api-client-go`).
    public var rateLimiter: SakuraRateLimiter
    /// Serialises power calls per zone; default ``InProcessPowerGate/shared`` (one process-wide lock per zone).
    public var powerGate: any PowerCallGate
    /// Boot retry timings of the SDK's power helper; default ``SakuraPowerPolicy/init(bootRetrySpan:initialRequestTimeout:)``
    /// (20 s, 30 min).
    public var power: SakuraPowerPolicy

    public init(
        baseURL: String = "https://secure.sakura.ad.jp", zone: String = "is1a", credentials: SakuraCloudCredentials,
        requestTimeout: Duration = .seconds(300), retry: SakuraRetryPolicy = SakuraRetryPolicy(),
        rateLimiter: SakuraRateLimiter = .processWide, powerGate: any PowerCallGate = InProcessPowerGate.shared,
        power: SakuraPowerPolicy = SakuraPowerPolicy()
    ) {
        self.power = power
        self.baseURL = baseURL
        self.zone = zone
        self.credentials = credentials
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.rateLimiter = rateLimiter
        self.powerGate = powerGate
    }

    /// `{baseURL}/cloud/zone/{zone}/api/cloud/1.1`.
    public var zoneRoot: String {
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        return "\(trimmed)/cloud/zone/\(zone)/api/cloud/1.1"
    }
}

/// Capped exponential backoff for retryable failures: wait `minWait · 2^retry`, at most `maxWait`; a
/// `Retry-After` header replaces the computed wait (still capped at `maxWait`).
public struct SakuraRetryPolicy: Sendable {
    /// Retries after the first attempt; default 10 (as the Go client).
    public var maxRetries: Int
    /// Default 1 s.
    public var minWait: Duration
    /// Default 64 s.
    public var maxWait: Duration

    public init(maxRetries: Int = 10, minWait: Duration = .seconds(1), maxWait: Duration = .seconds(64)) {
        self.maxRetries = maxRetries
        self.minWait = minWait
        self.maxWait = maxWait
    }

    /// No retries.
    public static let none = SakuraRetryPolicy(maxRetries: 0)

    /// The wait before retry number `retry` (0-based), given the server's `Retry-After` in seconds.
    public func wait(beforeRetry retry: Int, retryAfterSeconds: Int?) -> Duration {
        if let retryAfterSeconds {
            return min(.seconds(retryAfterSeconds), maxWait)
        }
        var wait = minWait
        for _ in 0..<min(retry, 30) {
            wait = wait * 2
            if wait >= maxWait { return maxWait }
        }
        return min(wait, maxWait)
    }
}
