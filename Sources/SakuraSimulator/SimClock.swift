import Synchronization

/// The simulator's virtual clock: seconds since start, moved by wall time (unless manual) plus every
/// `/_fake/advance`.
final class SimClock: Sendable {
    private let start = ContinuousClock.now
    private let followsWallClock: Bool
    private let offset = Mutex<Double>(0)

    init(followsWallClock: Bool) {
        self.followsWallClock = followsWallClock
    }

    var now: Double {
        let advanced = offset.withLock { $0 }
        guard followsWallClock else { return advanced }
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 + advanced
    }

    func advance(seconds: Double) {
        offset.withLock { $0 += max(seconds, 0) }
    }
}
