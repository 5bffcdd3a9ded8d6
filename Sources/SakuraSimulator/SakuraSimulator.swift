import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A local SAKURA Cloud API (the subset Kaji uses) on a real HTTP socket.
///
/// The paths are the real API's (`/cloud/zone/{zone}/api/cloud/1.1/…`), so a client only changes its base
/// URL (``baseURL``). Administration, never faulted and without auth: `GET /_fake/state`,
/// `POST /_fake/reset`, `POST /_fake/advance?seconds=N`, `POST /_fake/faults` (body: a ``FaultRule`` list),
/// `DELETE /_fake/faults`, and the kube-apiserver stand-ins under `/_fake/apiservers` (see
/// `SimulatedAPIServers.swift`).
public final class SakuraSimulator: Sendable {
    /// The port the server listens on.
    public let port: Int
    /// The address the server listens on.
    public let host: String
    let store: SimStore
    /// The kube-apiserver stand-ins of the simulated clusters (`SimulatedAPIServers.swift`).
    let apiServers: SimAPIServers
    private let task: Task<Void, Never>
    private let group: ServiceGroup

    private init(port: Int, host: String, store: SimStore, apiServers: SimAPIServers, task: Task<Void, Never>, group: ServiceGroup) {
        self.port = port
        self.host = host
        self.store = store
        self.apiServers = apiServers
        self.task = task
        self.group = group
    }

    /// `http://HOST:PORT`: what replaces `https://secure.sakura.ad.jp` in a client.
    public var baseURL: String { "http://\(host):\(port)" }

    /// Starts listening; returns once the socket is bound, or throws when it cannot be.
    /// - Parameter logger: default: a logger at `warning` level labelled `sakura-sim`.
    public static func start(
        _ configuration: SakuraSimulatorConfiguration = SakuraSimulatorConfiguration(), logger: Logger? = nil
    ) async throws -> SakuraSimulator {
        let store = SimStore(configuration: configuration)
        var quiet = Logger(label: "sakura-sim")
        quiet.logLevel = .warning
        let apiServers = SimAPIServers(worldDirectory: configuration.nodes?.worldDirectory, logger: logger ?? quiet)
        let (events, continuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = Application(
            responder: SimResponder(store: store, configuration: configuration, apiServers: apiServers),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(.success(channel.localAddress?.port ?? 0))
            },
            logger: logger ?? quiet)
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger ?? quiet))
        let task = Task {
            do {
                try await group.run()
                continuation.yield(.failure(SakuraSimulatorError.stoppedBeforeListening))
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        for await event in events {
            switch event {
            case .success(let port):
                let simulator = SakuraSimulator(port: port, host: configuration.host, store: store, apiServers: apiServers, task: task, group: group)
                apiServers.publish(simulatorURL: simulator.baseURL)
                return simulator
            case .failure(let error):
                throw SakuraSimulatorError.couldNotListen(
                    host: configuration.host, port: configuration.port, reason: String(describing: error))
            }
        }
        throw SakuraSimulatorError.stoppedBeforeListening
    }

    /// Stops the server gracefully (open requests finish), cancelling it after 2 s, and waits until it has
    /// closed its socket.
    public func stop() async {
        await apiServers.stopAll()
        await group.triggerGracefulShutdown()
        let task = self.task
        let watchdog = Task {
            try await Task.sleep(for: .seconds(2))
            task.cancel()
        }
        await task.value
        watchdog.cancel()
    }

    /// Moves the virtual clock forward (same as `POST /_fake/advance`).
    public func advance(seconds: Double) {
        store.clock.advance(seconds: seconds)
    }

    /// The query strings of the last 100 find calls (`GET` with `?`), oldest first, exactly as they came on
    /// the wire (before percent-decoding), as `METHOD /path?query` below the zone root.
    public func recentQueries() -> [String] {
        store.queries()
    }

    /// The whole store as `GET /_fake/state` returns it.
    public func state() -> JSONValue {
        store.dump()
    }

    /// Forgets all resources (same as `POST /_fake/reset`).
    public func reset() {
        store.reset()
    }

    /// Adds fault rules at run time.
    public func addFaults(_ rules: [FaultRule]) {
        store.addFaults(rules)
    }
}

/// Why the simulator could not start.
public enum SakuraSimulatorError: Error, Sendable, CustomStringConvertible {
    case couldNotListen(host: String, port: Int, reason: String)
    case stoppedBeforeListening

    public var description: String {
        switch self {
        case .couldNotListen(let host, let port, let reason):
            return "sakura-sim could not listen on \(host):\(port): \(reason)"
        case .stoppedBeforeListening:
            return "sakura-sim stopped before it was listening"
        }
    }
}
