import Foundation
import Logging
import Synchronization

/// The kube-apiserver stand-ins of one simulator, one per simulated cluster, keyed by the control-plane
/// endpoint (`VIP:6443`) its `kubeadm init` named.
///
/// The simulated `kubeadm init` registers the endpoint (`POST /_fake/apiservers`): it learns the simulator's
/// address from `simulator.json` in its world's directory, which the simulator writes when it is given the
/// node-state directory (``SimulatedNodes/stateDirectory``). The simulator then keeps `apiservers.json`
/// there, a map from each endpoint to the loopback address that serves it (`{"192.168.100.10:6443":
/// "127.0.0.1:41234"}`): a worker's `KAJI_API_ENDPOINT_OVERRIDES` names that file, because the VIP itself is
/// not routable on the simulator.
final class SimAPIServers: Sendable {
    private let servers = Mutex<[String: SimAPIServer]>([:])
    /// `$KAJI_SIM_STATE/<world>`, or nil.
    let worldDirectory: String?
    private let logger: Logger

    init(worldDirectory: String?, logger: Logger) {
        self.worldDirectory = worldDirectory
        self.logger = logger
    }

    /// The file the overrides are written to, or nil without a world directory.
    var overridesFile: String? { worldDirectory.map { $0 + "/apiservers.json" } }

    /// `VIP`, `VIP:PORT` or `https://VIP:PORT/…` as `VIP:PORT` (port 6443 when none is given).
    static func normalize(_ endpoint: String) -> String {
        var text = endpoint.trimmingCharacters(in: .whitespaces)
        if let range = text.range(of: "://") { text = String(text[range.upperBound...]) }
        if let slash = text.firstIndex(of: "/") { text = String(text[..<slash]) }
        return text.contains(":") ? text : text + ":6443"
    }

    /// Starts a stand-in for `endpoint` with a new CA, replacing (and stopping) one already there: a cluster
    /// built again on the same VIP gets a new CA, as a fresh `kubeadm init` does.
    func register(endpoint: String) async throws -> SimAPIServerInfo {
        let key = Self.normalize(endpoint)
        let host = String(key.split(separator: ":").first ?? "")
        let server = SimAPIServer(endpoint: key, certificates: try SimAPICertificates.make(addresses: [host]),
                                  nodeSettingsFile: worldDirectory.map { $0 + "/settings.json" }, logger: logger)
        try await server.listen()
        let previous = servers.withLock { servers -> SimAPIServer? in
            defer { servers[key] = server }
            return servers[key]
        }
        await previous?.stopListening()
        writeOverrides()
        return server.info
    }

    /// The stand-in of `endpoint`; with nil, the only one (nil when there are none or several).
    func server(_ endpoint: String?) -> SimAPIServer? {
        servers.withLock { servers in
            if let endpoint { return servers[Self.normalize(endpoint)] }
            return servers.count == 1 ? servers.values.first : nil
        }
    }

    /// Every stand-in, by endpoint.
    func list() -> [SimAPIServerInfo] {
        servers.withLock { Array($0.values) }.map(\.info).sorted { $0.endpoint < $1.endpoint }
    }

    /// Stops and forgets the stand-in of `endpoint`; returns whether there was one.
    func remove(_ endpoint: String) async -> Bool {
        let key = Self.normalize(endpoint)
        guard let server = servers.withLock({ $0.removeValue(forKey: key) }) else { return false }
        await server.stopListening()
        writeOverrides()
        return true
    }

    /// Stops every stand-in (the simulator is stopping) and removes the files it wrote.
    func stopAll() async {
        let all = servers.withLock { servers -> [SimAPIServer] in
            defer { servers = [:] }
            return Array(servers.values)
        }
        for server in all { await server.stopListening() }
        if let worldDirectory {
            try? FileManager.default.removeItem(atPath: worldDirectory + "/apiservers.json")
            try? FileManager.default.removeItem(atPath: worldDirectory + "/simulator.json")
        }
    }

    /// Tells the world's node tools where the simulator's admin API is.
    func publish(simulatorURL: String) {
        guard let worldDirectory else { return }
        try? FileManager.default.createDirectory(atPath: worldDirectory, withIntermediateDirectories: true)
        Self.writeJSON(["url": simulatorURL], to: worldDirectory + "/simulator.json")
        writeOverrides()
    }

    private func writeOverrides() {
        guard let file = overridesFile else { return }
        var map: [String: String] = [:]
        for server in servers.withLock({ Array($0.values) }) { map[server.endpoint] = "127.0.0.1:\(server.port)" }
        Self.writeJSON(map, to: file)
    }

    /// Writes through a temporary file and a rename, so that a reader never sees half a file.
    private static func writeJSON(_ value: [String: String], to path: String) {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return }
        let temporary = path + ".tmp-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, path) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
    }
}
