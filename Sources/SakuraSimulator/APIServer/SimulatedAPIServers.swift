import Foundation

/// The kube-apiserver stand-ins, from Swift (tests): the same switches as `/_fake/apiservers`.
///
/// A simulated cluster gets its stand-in when its `kubeadm init` registers the control-plane endpoint (the
/// node tools need ``SimulatedNodes/stateDirectory`` for that), or when a test calls
/// ``registerAPIServer(endpoint:)``. Endpoints are `VIP:6443` (a bare VIP means port 6443); `nil` means the
/// only stand-in.
extension SakuraSimulator {
    /// Starts a stand-in for `endpoint` with a new CA (replacing one already there).
    @discardableResult
    public func registerAPIServer(endpoint: String) async throws -> SimAPIServerInfo {
        try await apiServers.register(endpoint: endpoint)
    }

    /// Every stand-in, by endpoint.
    public func apiServerList() -> [SimAPIServerInfo] {
        apiServers.list()
    }

    /// The stand-in of `endpoint`, or nil.
    public func apiServer(_ endpoint: String? = nil) -> SimAPIServerInfo? {
        apiServers.server(endpoint)?.info
    }

    /// Fails `check` (e.g. `etcd`) on a stand-in, or heals it (`failing: false`). Throws when there is no such
    /// stand-in.
    public func setAPICheck(_ check: String, failing: Bool, endpoint: String? = nil) throws {
        guard let server = apiServers.server(endpoint) else { throw SimAPIServerError.notFound(endpoint) }
        server.setCheck(check, failing: failing)
    }

    /// Takes a stand-in down (connections refused), up again, or makes it hang (see ``SimAPIServerMode``).
    public func setAPIServer(_ mode: SimAPIServerMode, endpoint: String? = nil) async throws {
        guard let server = apiServers.server(endpoint) else { throw SimAPIServerError.notFound(endpoint) }
        try await server.setMode(mode)
    }

    /// `<state>/<world>/apiservers.json`: each stand-in's endpoint and the loopback address serving it (what
    /// a worker's `KAJI_API_ENDPOINT_OVERRIDES` names); nil without a node-state directory.
    public var apiServerOverridesFile: String? { apiServers.overridesFile }

    /// The checks a stand-in's `/readyz` lists, in order.
    public static var apiServerReadyzChecks: [String] { SimAPIServer.readyzChecks }
}

/// A stand-in that does not exist.
public enum SimAPIServerError: Error, CustomStringConvertible {
    case notFound(String?)

    public var description: String {
        switch self {
        case .notFound(let endpoint?): return "the simulator has no kube-apiserver stand-in for \(endpoint)"
        case .notFound(nil): return "the simulator has several or no kube-apiserver stand-ins: name the endpoint"
        }
    }
}
