import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// How a kube-apiserver stand-in answers.
public enum SimAPIServerMode: String, Sendable, Codable, CaseIterable {
    /// Listening and answering.
    case up
    /// Not listening: connections are refused (its port is kept for when it comes back).
    case down
    /// Accepting connections and finishing the TLS handshake, then never answering.
    case hang
}

/// What a stand-in is, for the admin API and tests.
public struct SimAPIServerInfo: Sendable, Equatable, Codable {
    /// The control-plane endpoint it stands in for, `VIP:6443`.
    public var endpoint: String
    /// Where it really listens, `127.0.0.1:PORT`.
    public var address: String
    /// Its cluster CA, PEM (what `admin.conf` carries).
    public var caCertificate: String
    public var mode: SimAPIServerMode
    /// The checks failing now, by name, with the reason the server would log (the HTTP answer withholds it).
    public var failing: [String: String]
}

/// One kube-apiserver stand-in: `GET /readyz`, `/livez` and `/healthz` (with `?verbose`, `?exclude=NAME`, and
/// `/readyz/NAME` for a single check) over TLS on 127.0.0.1, in kube-apiserver's format (from its
/// `healthz` package): each check as `[+]NAME ok`, `[-]NAME failed: reason withheld` or
/// `[+]NAME excluded: ok`, then `readyz check passed` (200) or `readyz check failed` (500). The list is
/// printed on failure even without `verbose`; a passing call without it answers just `ok`.
final class SimAPIServer: Sendable {
    /// The checks of `/readyz`, in kube-apiserver 1.33's order (a representative subset of its post-start hooks).
    static let readyzChecks = [
        "ping", "log", "etcd", "etcd-readiness", "informer-sync",
        "poststarthook/start-apiserver-admission-initializer", "poststarthook/generic-apiserver-start-informers",
        "poststarthook/priority-and-fairness-config-consumer", "poststarthook/priority-and-fairness-filter",
        "poststarthook/storage-object-count-tracker-hook", "poststarthook/start-apiextensions-informers",
        "poststarthook/start-apiextensions-controllers", "poststarthook/crd-informer-synced",
        "poststarthook/start-system-namespaces-controller", "poststarthook/bootstrap-controller",
        "poststarthook/rbac/bootstrap-roles", "poststarthook/scheduling/bootstrap-system-priority-classes",
        "poststarthook/start-kube-aggregator-informers", "poststarthook/apiservice-registration-controller",
        "poststarthook/apiservice-discovery-controller", "poststarthook/kube-apiserver-autoregistration",
        "autoregister-completion", "poststarthook/apiservice-openapi-controller", "shutdown",
    ]
    /// `/livez` and `/healthz` lack the readiness-only checks.
    static let livezChecks = readyzChecks.filter { !["etcd-readiness", "informer-sync", "shutdown"].contains($0) }

    let endpoint: String
    let certificates: SimAPICertificates
    /// The node tools' `settings.json` of the world, whose `readyz-failing` list fails checks too (so that
    /// `kaji-sim-node set readyz-failing etcd` breaks both what the nodes' kubectl and what Kaji's checker see).
    let nodeSettingsFile: String?
    private struct State {
        var mode: SimAPIServerMode = .up
        var failing: [String: String] = [:]
        var port = 0
        var running: (group: ServiceGroup, task: Task<Void, Never>)?
    }
    private let state = Mutex(State())
    private let logger: Logger

    init(endpoint: String, certificates: SimAPICertificates, nodeSettingsFile: String?, logger: Logger) {
        self.endpoint = endpoint
        self.certificates = certificates
        self.nodeSettingsFile = nodeSettingsFile
        self.logger = logger
    }

    var info: SimAPIServerInfo {
        state.withLock { state in
            SimAPIServerInfo(endpoint: endpoint, address: "127.0.0.1:\(state.port)", caCertificate: certificates.caPEM,
                             mode: state.mode, failing: state.failing)
        }
    }

    var port: Int { state.withLock { $0.port } }
    var mode: SimAPIServerMode { state.withLock { $0.mode } }

    /// Fails `check` (the reason is only logged, as the real server does) or heals it.
    func setCheck(_ check: String, failing: Bool, reason: String = "injected by the simulator") {
        state.withLock { state in
            if failing { state.failing[check] = reason } else { state.failing[check] = nil }
        }
    }

    /// Heals every check.
    func healAll() {
        state.withLock { $0.failing = [:] }
    }

    /// Switches between listening and answering (`up`), refusing connections (`down`) and never answering
    /// (`hang`). Coming back up binds the same port again.
    func setMode(_ mode: SimAPIServerMode) async throws {
        let previous = state.withLock { state -> SimAPIServerMode in
            defer { state.mode = mode }
            return state.mode
        }
        switch (previous, mode) {
        case (.down, .up), (.down, .hang):
            try await listen()
        case (.up, .down), (.hang, .down):
            await stopListening()
        default:
            break
        }
    }

    /// Starts listening (on a free port the first time, then on the same one).
    func listen() async throws {
        let wanted = port
        var lastError: (any Error)?
        // The same port can be briefly unavailable right after it was closed: try for up to ~2 s.
        for attempt in 0..<20 {
            do {
                try await bind(port: wanted)
                return
            } catch {
                lastError = error
                guard wanted != 0 else { break }
                try await Task.sleep(for: .milliseconds(min(50 * (attempt + 1), 200)))
            }
        }
        throw lastError ?? SakuraSimulatorError.stoppedBeforeListening
    }

    private func bind(port: Int) async throws {
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificates.serverCertificate)],
                                                           privateKey: .privateKey(certificates.serverKey))
        tls.applicationProtocols = ["http/1.1"]
        let (events, continuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = Application(
            responder: SimAPIServerResponder(server: self),
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in continuation.yield(.success(channel.localAddress?.port ?? 0)) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
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
            case .success(let bound):
                state.withLock { state in
                    state.port = bound
                    state.running = (group, task)
                }
                return
            case .failure(let error):
                throw SakuraSimulatorError.couldNotListen(host: "127.0.0.1", port: port, reason: String(describing: error))
            }
        }
        throw SakuraSimulatorError.stoppedBeforeListening
    }

    /// Closes the listener and open connections (requests in flight, e.g. hung ones, are cancelled after 1 s).
    func stopListening() async {
        guard let running = state.withLock({ state -> (group: ServiceGroup, task: Task<Void, Never>)? in
            defer { state.running = nil }
            return state.running
        }) else { return }
        await running.group.triggerGracefulShutdown()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(1))
            running.task.cancel()
        }
        await running.task.value
        watchdog.cancel()
    }

    /// The checks failing now: the switches plus the node tools' `readyz-failing`.
    func failingChecks() -> [String: String] {
        var failing = state.withLock { $0.failing }
        if let nodeSettingsFile, let data = FileManager.default.contents(atPath: nodeSettingsFile),
           let settings = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let names = settings["readyz-failing"] as? [String] {
            for name in names where failing[name] == nil { failing[name] = "set by kaji-sim-node" }
        }
        return failing
    }

    /// The status and body of `GET path?query`, as kube-apiserver answers it.
    func answer(path: String, query: [(String, String)]) -> (status: Int, body: String) {
        let segments = path.split(separator: "/").map(String.init)
        guard let root = segments.first, ["readyz", "livez", "healthz"].contains(root) else {
            return (404, #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"# + "\n")
        }
        let checks = root == "readyz" ? Self.readyzChecks : Self.livezChecks
        let failing = failingChecks()
        if segments.count > 1 {
            // One check: /readyz/etcd, /readyz/poststarthook/rbac/bootstrap-roles.
            let name = segments.dropFirst().joined(separator: "/")
            guard checks.contains(name) else { return (404, "404 page not found\n") }
            if let reason = failing[name] { return (500, "internal server error: \(reason)\n") }
            return (200, "ok")
        }
        var excluded = Set(query.filter { $0.0 == "exclude" }.map(\.1))
        let verbose = query.contains { $0.0 == "verbose" }
        var lines = ""
        var failed = false
        for check in checks {
            if excluded.remove(check) != nil {
                lines += "[+]\(check) excluded: ok\n"
            } else if failing[check] != nil {
                lines += "[-]\(check) failed: reason withheld\n"
                failed = true
            } else {
                lines += "[+]\(check) ok\n"
            }
        }
        if !excluded.isEmpty {
            lines += "warn: some health checks cannot be excluded: no matches for \(excluded.sorted().map { "\"\($0)\"" }.joined(separator: ","))\n"
        }
        if failed { return (500, "\(lines)\(root) check failed\n") }
        return verbose ? (200, "\(lines)\(root) check passed\n") : (200, "ok")
    }
}

/// The HTTP side of a ``SimAPIServer``.
struct SimAPIServerResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let server: SimAPIServer

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        if server.mode == .hang {
            try await Task.sleep(for: .seconds(3600))
        }
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed)
        }
        let query = (request.uri.query ?? "").split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        let (status, body) = server.answer(path: request.uri.path, query: query)
        var headers = HTTPFields()
        headers[.contentType] = status == 404 && body.hasPrefix("{") ? "application/json" : "text/plain; charset=utf-8"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
