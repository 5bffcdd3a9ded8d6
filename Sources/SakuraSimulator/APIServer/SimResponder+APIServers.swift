import Foundation
import Hummingbird
import NIOCore

/// `/_fake/apiservers`: the kube-apiserver stand-ins and their fault switches. The endpoint is `VIP:6443` (or
/// just the VIP); where it is optional, the only stand-in is meant.
///
/// - `POST /_fake/apiservers` body `{"endpoint": "192.168.100.10:6443"}`: start a stand-in with a new CA
///   (the simulated `kubeadm init` calls it); answers its info (`endpoint`, `address`, `caCertificate`, …).
/// - `GET /_fake/apiservers`: every stand-in.
/// - `POST /_fake/apiservers/fail?check=etcd[&endpoint=…][&reason=…]`: that check answers `[-]… failed`.
/// - `POST /_fake/apiservers/heal[?check=etcd][&endpoint=…]`: heal one check, or every check.
/// - `POST /_fake/apiservers/down|up|hang[?endpoint=…]`: refuse connections, answer again, or accept and
///   never answer.
/// - `DELETE /_fake/apiservers?endpoint=…`: stop and forget a stand-in.
extension SimResponder {
    func apiServerAdmin(_ path: [String], request: inout Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let endpoint = parameters.get("endpoint")
        switch (request.method, path) {
        case (.get, []):
            return json(200, ["apiservers": .array(apiServers.list().map(Self.infoJSON))])
        case (.post, []):
            let buffer = try await request.collectBody(upTo: 1 << 16)
            let body = try? JSONValue.parse(Data(buffer.readableBytesView))
            guard let wanted = body?["endpoint"]?.stringValue ?? endpoint, !wanted.isEmpty else {
                return json(400, ["is_ok": false, "error_msg": "give the control-plane endpoint: {\"endpoint\": \"VIP:6443\"}"])
            }
            do {
                return json(200, Self.infoJSON(try await apiServers.register(endpoint: wanted)))
            } catch {
                return json(500, ["is_ok": false, "error_msg": .string("could not start a stand-in for \(wanted): \(error)")])
            }
        case (.delete, []):
            guard let endpoint else { return json(400, ["is_ok": false, "error_msg": "give ?endpoint=VIP:6443"]) }
            return await apiServers.remove(endpoint) ? json(200, ["is_ok": true]) : notFound(endpoint)
        case (.post, let rest) where rest.count == 1:
            let action = rest[0]
            guard let server = apiServers.server(endpoint) else { return notFound(endpoint) }
            switch action {
            case "fail":
                guard let check = parameters.get("check"), !check.isEmpty else {
                    return json(400, ["is_ok": false, "error_msg": "give ?check=NAME, e.g. etcd"])
                }
                server.setCheck(check, failing: true, reason: parameters.get("reason") ?? "injected by the simulator")
            case "heal":
                if let check = parameters.get("check") { server.setCheck(check, failing: false) } else { server.healAll() }
            case "up", "down", "hang":
                do {
                    try await server.setMode(SimAPIServerMode(rawValue: action) ?? .up)
                } catch {
                    return json(500, ["is_ok": false, "error_msg": .string("could not switch \(server.endpoint) \(action): \(error)")])
                }
            default:
                return json(404, ["is_ok": false, "error_msg": .string("unknown action \(action): use fail, heal, up, down or hang")])
            }
            return json(200, Self.infoJSON(server.info))
        default:
            return json(404, ["is_ok": false, "error_msg": "unknown call; use GET or POST /_fake/apiservers, POST /_fake/apiservers/fail|heal|up|down|hang, DELETE /_fake/apiservers"])
        }
    }

    private func notFound(_ endpoint: String?) -> Response {
        let known = apiServers.list().map(\.endpoint).joined(separator: ", ")
        let what = endpoint.map { "no stand-in for \($0)" } ?? "several or no stand-ins: give ?endpoint=VIP:6443"
        return json(404, ["is_ok": false, "error_msg": .string("\(what) (known: \(known.isEmpty ? "none" : known))")])
    }

    static func infoJSON(_ info: SimAPIServerInfo) -> JSONValue {
        [
            "endpoint": .string(info.endpoint), "address": .string(info.address), "caCertificate": .string(info.caCertificate),
            "mode": .string(info.mode.rawValue), "failing": .object(info.failing.mapValues { .string($0) }),
        ]
    }
}
