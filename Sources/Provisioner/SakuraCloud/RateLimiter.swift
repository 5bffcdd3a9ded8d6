/// Spaces SAKURA Cloud requests evenly: at most `requestsPerSecond`, no burst. Share one between clients
/// to limit them together; ``processWide`` is the default of every client.
public final class SakuraRateLimiter: Sendable {
    /// 5 requests per second for the whole process (the official Go client's default).
    public static let processWide = SakuraRateLimiter(requestsPerSecond: 5)

    public let requestsPerSecond: Double
    private let slots: RateLimiterSlots

    /// - Parameter requestsPerSecond: 0 or less means no limit.
    public init(requestsPerSecond: Double) {
        self.requestsPerSecond = requestsPerSecond
        slots = RateLimiterSlots(
            interval: requestsPerSecond > 0 ? .nanoseconds(Int64(1e9 / requestsPerSecond)) : .zero)
    }

    /// Waits for the caller's slot.
    public func acquire() async throws {
        try await slots.acquire()
    }
}

actor RateLimiterSlots {
    private let interval: Duration
    private var nextSlot: ContinuousClock.Instant

    init(interval: Duration) {
        self.interval = interval
        nextSlot = .now
    }

    func acquire() async throws {
        let now = ContinuousClock.now
        let slot = max(nextSlot, now)
        nextSlot = slot + interval
        if slot > now {
            try await Task.sleep(until: slot, clock: .continuous)
        }
    }
}
