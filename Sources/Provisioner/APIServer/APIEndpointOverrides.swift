import Foundation

/// Where to dial a cluster's API endpoint instead of the endpoint itself. In production there is none: Kaji
/// dials `https://VIP:6443`. Where the VIP is not routable (the SAKURA Cloud simulator serves each cluster's
/// kube-apiserver stand-in on a loopback port), a map from `HOST:PORT` to the `HOST:PORT` to dial instead;
/// the TLS check is unchanged (the CA stays pinned; the certificate must name the address dialled).
public enum APIEndpointOverrides: Sendable, Equatable {
    /// Dial every endpoint as it is (the default).
    case none
    /// A JSON file `{"VIP:6443": "127.0.0.1:PORT", …}`, read at each dial (so it may change while Kaji runs,
    /// as the simulator's `apiservers.json` does). A missing or unreadable file overrides nothing.
    case file(String)
    /// A fixed map (tests).
    case fixed([String: String])

    /// From `KAJI_API_ENDPOINT_OVERRIDES` (a file, see ``file(_:)``); ``none`` when unset or empty.
    public static func fromEnvironment(_ environment: [String: String]) -> APIEndpointOverrides {
        guard let path = environment["KAJI_API_ENDPOINT_OVERRIDES"], !path.isEmpty else { return .none }
        return .file(path)
    }

    /// The `HOST:PORT` to dial for `hostPort`, or nil to dial it as it is.
    public func address(for hostPort: String) -> String? {
        switch self {
        case .none:
            return nil
        case .fixed(let map):
            return map[hostPort]
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path),
                  let map = try? JSONDecoder().decode([String: String].self, from: data) else { return nil }
            return map[hostPort]
        }
    }
}
