import Engine
import Foundation
import Provisioner

/// The node an operation on an existing cluster runs its commands on: the cluster's first master.
public struct ClusterCommandNode: Codable, Sendable, Equatable {
    public var cluster: String
    public var node: ClusterNode

    /// How to reach the node over SSH.
    public var endpoint: SSHEndpoint {
        SSHEndpoint(host: node.sshHost, port: node.sshPort, user: node.sshUser, environment: node.sshEnvironment)
    }

    /// Looks the cluster up in the inventory and picks its first master. Non-retryable errors name the
    /// `cluster` input when the cluster is unknown, being torn down, or has no master.
    static func resolve(_ cluster: String, inventory: ClusterInventory) async throws -> ClusterCommandNode {
        try await lookup(cluster, inventory: inventory).target
    }

    /// ``resolve(_:inventory:)`` with the cluster's inventory record.
    static func lookup(_ cluster: String, inventory: ClusterInventory) async throws -> (target: ClusterCommandNode, record: ClusterRecord) {
        guard let record = try await inventory.get(cluster) else {
            throw WorkflowError("cluster: no cluster named '\(cluster)' in the inventory (see `kaji clusters`)", nonRetryable: true)
        }
        guard let state = record.clusterState, ![ClusterState.deleting, .deleted, .provisioning].contains(state) else {
            throw WorkflowError("cluster: '\(cluster)' is \(record.state); this operation needs a provisioned cluster", nonRetryable: true)
        }
        guard let master = record.nodes.first(where: { $0.role == .master }) else {
            throw WorkflowError("cluster: '\(cluster)' has no master node in the inventory", nonRetryable: true)
        }
        return (ClusterCommandNode(cluster: cluster, node: master), record)
    }
}

/// Reads Velero objects on a node.
struct VeleroReader: Sendable {
    let ssh: SSHExecutor
    let target: ClusterCommandNode
    /// For each read (default 60 s).
    var deadline: Duration = .seconds(60)

    /// The status of a backup or restore, or nil when Velero says it does not exist.
    func status(_ resource: Velero.Resource, _ name: String) async throws -> VeleroStatus? {
        let result = try await Self.run(ssh, Velero.getCommand(resource, name: name), on: target.endpoint, deadline: deadline)
        if !result.succeeded {
            if Velero.isNotFound(result.stderr) { return nil }
            throw WorkflowError("`velero \(resource.rawValue) get \(name)` on \(target.node.name) exited \(result.exitStatus): \(Self.tail(result.stderr))")
        }
        do {
            return try Velero.parseStatus(json: result.stdout)
        } catch {
            throw WorkflowError("\(error)")
        }
    }

    /// The errors and warnings `describe --details` lists (empty when it cannot be read: the counts and
    /// reasons of ``status(_:_:)`` still tell the story).
    func problems(_ resource: Velero.Resource, _ name: String) async -> VeleroProblems {
        guard let result = try? await ssh.run(Velero.describeCommand(resource, name: name), on: target.endpoint, deadline: deadline),
            result.succeeded
        else { return VeleroProblems() }
        return Velero.parseProblems(result.stdout)
    }

    /// A durable-poll check: done when the object reached a phase where `--wait` stops.
    func poll(_ resource: Velero.Resource, _ name: String) async throws -> PollResult<VeleroStatus> {
        guard let status = try await status(resource, name) else {
            throw WorkflowError("\(resource.rawValue) '\(name)' does not exist on cluster \(target.cluster) (node \(target.node.name)): it was not created or has been deleted", nonRetryable: true)
        }
        if status.phase.isFinal { return .done(status) }
        var seen = "\(resource.rawValue) \(name) is \(status.phase)"
        if let total = status.totalItems { seen += ", \(status.itemsDone ?? 0)/\(total) items" }
        return .notYet(seen)
    }

    /// The failure message of a backup or restore that did not complete: phase, counts, reason, and
    /// Velero's own messages (at most 10 of each).
    static func failureMessage(_ resource: Velero.Resource, _ name: String, cluster: String, status: VeleroStatus, problems: VeleroProblems) -> String {
        var parts = ["\(resource.rawValue) '\(name)' of cluster \(cluster) ended \(status.phase): \(status.errors) error(s), \(status.warnings) warning(s)"]
        if let total = status.totalItems { parts.append("\(status.itemsDone ?? 0) of \(total) items \(resource == .backup ? "backed up" : "restored")") }
        if let reason = status.failureReason { parts.append("failure reason: \(reason)") }
        if !status.validationErrors.isEmpty { parts.append("validation errors: " + status.validationErrors.joined(separator: "; ")) }
        if !problems.errors.isEmpty { parts.append("errors: " + limited(problems.errors)) }
        if !problems.warnings.isEmpty { parts.append("warnings: " + limited(problems.warnings)) }
        parts.append("see `velero \(resource.rawValue) logs \(name)` on \(cluster)")
        return parts.joined(separator: "; ")
    }

    /// `ssh.run`, with SSH failures as `WorkflowError`s that keep their retryability (a changed host key or
    /// a refused client key is not retried).
    static func run(_ ssh: SSHExecutor, _ command: String, on endpoint: SSHEndpoint, stdin: String? = nil, deadline: Duration) async throws -> SSHCommandResult {
        do {
            return try await ssh.run(command, on: endpoint, stdin: stdin, deadline: deadline)
        } catch let error as SSHError {
            throw WorkflowError("\(error)", nonRetryable: !error.isRetryable)
        }
    }

    static func limited(_ lines: [String], max: Int = 10) -> String {
        let shown = lines.prefix(max).joined(separator: " | ")
        return lines.count > max ? shown + " | … \(lines.count - max) more" : shown
    }

    static func tail(_ text: String) -> String {
        let lines = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        return lines.isEmpty ? "(no output)" : String(lines.prefix(500))
    }
}
