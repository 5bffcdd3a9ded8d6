/// How to start a ``SakuraSimulator``.
public struct SakuraSimulatorConfiguration: Sendable {
    /// How the virtual clock moves.
    public enum ClockMode: Sendable, Equatable {
        /// Virtual time follows wall time, plus every `/_fake/advance` (the default).
        case wallClock
        /// Virtual time moves only by `/_fake/advance`.
        case manual
    }

    /// Listening address; default `127.0.0.1`. Only loopback addresses make sense for a test double.
    public var host: String
    /// Listening port; default 0 (the kernel picks a free one; read ``SakuraSimulator/port``).
    public var port: Int
    /// Access token expected as the Basic auth user; default `kaji-sim-token`.
    public var accessToken: String
    /// Secret expected as the Basic auth password; default `kaji-sim-secret`.
    public var accessTokenSecret: String
    /// Timings; default ``SimulatorProfile/unit``.
    public var profile: SimulatorProfile
    /// Injected failures; default none.
    public var faults: [FaultRule]
    /// Seed of fault rolls, durations and serials; default 1.
    public var seed: UInt64
    /// Default ``ClockMode/wallClock``.
    public var clock: ClockMode
    /// Account limits; default ``SimulatorQuotas/init()``.
    public var quotas: SimulatorQuotas
    /// SSH endpoint reported for servers; default nil (servers carry no `KajiSim` member).
    public var nodes: SimulatedNodes?

    public init(
        host: String = "127.0.0.1", port: Int = 0, accessToken: String = "kaji-sim-token",
        accessTokenSecret: String = "kaji-sim-secret", profile: SimulatorProfile = .unit,
        faults: [FaultRule] = [], seed: UInt64 = 1, clock: ClockMode = .wallClock,
        quotas: SimulatorQuotas = SimulatorQuotas(), nodes: SimulatedNodes? = nil
    ) {
        self.host = host
        self.port = port
        self.accessToken = accessToken
        self.accessTokenSecret = accessTokenSecret
        self.profile = profile
        self.faults = faults
        self.seed = seed
        self.clock = clock
        self.quotas = quotas
        self.nodes = nodes
    }
}
