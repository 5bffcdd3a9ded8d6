import Foundation

/// How often and how soon a step or run is tried again after a retryable error: exponential backoff
/// with full jitter, capped.
public struct RetryPolicy: Sendable, Codable, Equatable {
    /// Attempts in all, the first included (default 5). `1` means never retry.
    public var maxAttempts: Int
    /// Delay before the second attempt (default 1 s).
    public var initialDelay: Duration
    /// Factor applied per attempt (default 2).
    public var backoff: Double
    /// Largest delay (default 60 s).
    public var maxDelay: Duration
    /// Fraction of the delay that is randomised (default 0.2: the delay is 80–100% of the nominal one).
    public var jitter: Double

    public init(maxAttempts: Int = 5, initialDelay: Duration = .seconds(1), backoff: Double = 2, maxDelay: Duration = .seconds(60), jitter: Double = 0.2) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.backoff = max(1, backoff)
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The default for steps: 5 attempts, 1 s doubling to 60 s.
    public static let `default` = RetryPolicy()
    /// One attempt, no retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The delay after failed attempt number `attempt` (1-based), jitter applied.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let base = initialDelay.seconds * pow(backoff, Double(max(0, attempt - 1)))
        let capped = min(base, maxDelay.seconds)
        let jittered = capped * (1 - jitter * random)
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
