import Crypto
import Engine
import Foundation
import Provisioner

/// What `record-api-ca` pinned: the CA's SHA-256 (of its PEM text), not the CA itself.
struct PinnedCA: Codable, Sendable {
    /// Whether admin.conf had a CA to pin.
    var pinned: Bool
    var sha256: String?
}

extension ClusterSteps {
    /// `record-api-ca`: reads the cluster CA from the master's admin.conf (`certificate-authority-data`,
    /// nothing else of the file leaves the node) and pins it in the inventory, where the API health checker
    /// finds it. An admin.conf without embedded CA data pins nothing (the checker then reports the cluster
    /// down with reason `configuration`) and the provision goes on.
    func recordClusterCA(on master: NodeEndpoint) async throws -> PinnedCA {
        let ssh = services.ssh, inventory = services.inventory, logger = services.logger, name = spec.name
        let command = Self.privileged(Self.kubectl(Kubectl.clusterCACommand), user: master.user)
        return try await context.step(names("record-api-ca"), retry: settings.nodeRetry) { step -> PinnedCA in
            let output = try await ssh.runChecked(command, on: master.ssh, deadline: .seconds(60)).stdout
            let pem = Kubectl.parseClusterCA(output)
            if pem == nil || APIServerProbe.problem(withCA: pem ?? "") != nil {
                logger.warning("admin.conf on the first master holds no usable certificate-authority-data: no CA pinned, API health checks will report it",
                               metadata: ["cluster": "\(name)"])
            }
            let usable = pem.flatMap { APIServerProbe.problem(withCA: $0) == nil ? $0 : nil }
            try await step.fenced { connection in _ = try await inventory.on(connection).pinCA(name, pem: usable) }
            return PinnedCA(pinned: usable != nil, sha256: usable.map { SHA256.hash(data: Data($0.utf8)).map { String(format: "%02x", $0) }.joined() })
        }
    }
}
