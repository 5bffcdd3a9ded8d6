/// Spaces requests evenly: at most `rate` per second, no burst.
actor RateLimiter {
    private let interval: Duration
    private var nextSlot: ContinuousClock.Instant

    init(requestsPerSecond rate: Double) {
        interval = rate > 0 ? .nanoseconds(Int64(1e9 / rate)) : .zero
        nextSlot = .now
    }

    /// Waits for this caller's slot.
    func acquire() async throws {
        let now = ContinuousClock.now
        let slot = max(nextSlot, now)
        nextSlot = slot + interval
        if slot > now {
            try await Task.sleep(until: slot, clock: .continuous)
        }
    }
}
