/// Timings of the simulated cloud.
///
/// `unit` is fast enough for unit tests (disk copy 0.2 s, boot 0.1 s, shutdown 0.1 s, no added latency);
/// `realistic` uses guessed real-world ranges (disk copy 60–180 s, boot 20–60 s, shutdown 5–15 s,
/// 20–200 ms latency per request, at most 4 power calls per second before 503 `busy`).
public struct SimulatorProfile: Sendable, Equatable {
    /// Seconds a disk copy from an archive takes (`migrating` → `available`).
    public var diskCopySeconds: ClosedRange<Double>
    /// Seconds from an accepted power-on to `up`.
    public var bootSeconds: ClosedRange<Double>
    /// Seconds from an accepted shutdown (`cleaning`) to `down`.
    public var shutdownSeconds: ClosedRange<Double>
    /// Real (wall-clock) latency added to every API answer, in seconds.
    public var latencySeconds: ClosedRange<Double>
    /// More power calls than this within one second answer 503 `busy`; nil = no limit.
    public var powerCallsPerSecond: Int?

    public init(
        diskCopySeconds: ClosedRange<Double>,
        bootSeconds: ClosedRange<Double>,
        shutdownSeconds: ClosedRange<Double>,
        latencySeconds: ClosedRange<Double> = 0...0,
        powerCallsPerSecond: Int? = nil
    ) {
        self.diskCopySeconds = diskCopySeconds
        self.bootSeconds = bootSeconds
        self.shutdownSeconds = shutdownSeconds
        self.latencySeconds = latencySeconds
        self.powerCallsPerSecond = powerCallsPerSecond
    }

    /// Fast timings for tests.
    public static let unit = SimulatorProfile(
        diskCopySeconds: 0.2...0.2, bootSeconds: 0.1...0.1, shutdownSeconds: 0.1...0.1)

    /// Guessed real-world timings (no official figures exist).
    public static let realistic = SimulatorProfile(
        diskCopySeconds: 60...180, bootSeconds: 20...60, shutdownSeconds: 5...15,
        latencySeconds: 0.02...0.2, powerCallsPerSecond: 4)

    /// The profile named `unit` or `realistic`.
    public static func named(_ name: String) -> SimulatorProfile? {
        switch name {
        case "unit": return .unit
        case "realistic": return .realistic
        default: return nil
        }
    }
}
