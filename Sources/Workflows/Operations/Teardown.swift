import Engine
import Foundation
import Provisioner

/// What a teardown removed.
struct TeardownResult: Codable, Sendable, Equatable {
    var servers: Int
    var disks: Int
    var switches: Int
}

/// Tears down every server, disk and switch carrying all of `tags`, in reverse order of creation: servers
/// are stopped (forced) and, once down, deleted with their disks; then leftover disks; then the switch.
/// Everything is looked up by tag at each step, so it adopts whatever exists, including resources whose
/// create answer was lost. Each phase is a named step (`<prefix>:power-off`, `<prefix>:servers-down`,
/// `<prefix>:delete-servers`, `<prefix>:delete-disks`, `<prefix>:delete-switch`), so a crash resumes it.
struct Teardown: Sendable {
    let cloud: SakuraCloudClient
    /// Where node host keys are pinned: a deleted server's entry is dropped, so a later node on the same
    /// address is not refused as a changed host key.
    let knownHosts: KnownHostsFile
    let settings: ClusterWorkflowSettings
    let context: WorkflowContext
    let tags: [String]
    /// Step name prefix, e.g. `undo` or `delete`.
    let prefix: String

    var query: FindQuery { FindQuery(filter: ["Tags.Name": .allTags(tags)]) }

    func run() async throws -> TeardownResult {
        let cloud = self.cloud, query = self.query, retry = settings.cloudRetry, knownHosts = self.knownHosts, settings = self.settings
        _ = try await context.step("\(prefix):power-off", retry: retry) { _ -> [String] in
            let servers = try await cloud.findServers(query)
            for server in servers where server.status == .up {
                try await cloud.powerOff(server.id, force: true)
            }
            return servers.map(\.id.rawValue)
        }
        _ = try await context.waitUntil("\(prefix):servers-down", every: settings.pollInterval, timeout: settings.shutdownTimeout) { () -> PollResult<Int> in
            let servers = try await cloud.findServers(query)
            let running = servers.filter { $0.status != .down }
            if running.isEmpty { return .done(servers.count) }
            for server in running where server.status == .up {
                try? await cloud.powerOff(server.id, force: true)
            }
            return .notYet("not down yet: " + running.map { "\($0.name) (\($0.status))" }.joined(separator: ", "))
        }
        let deleted = try await context.step("\(prefix):delete-servers", retry: retry) { _ -> TeardownResult in
            let servers = try await cloud.findServers(query)
            for server in servers {
                guard server.status == .down else {
                    throw WorkflowError("server \(server.name) (\(server.id)) is \(server.status), not down; it cannot be deleted yet")
                }
                try await cloud.deleteServer(server.id, withDisks: server.diskIDs)
                if let endpoint = server.sshEndpoint(port: settings.sshPort, user: settings.sshUser) {
                    knownHosts.forget(endpoint.knownHostsName)
                }
            }
            return TeardownResult(servers: servers.count, disks: servers.reduce(0) { $0 + $1.diskIDs.count }, switches: 0)
        }
        let disks = try await context.step("\(prefix):delete-disks", retry: retry) { _ -> Int in
            let disks = try await cloud.findDisks(query)
            for disk in disks { try await cloud.deleteDisk(disk.id) }
            return disks.count
        }
        // As the SDK's cleanup.DeleteSwitch: wait until no server references the switch, then delete it.
        _ = try await context.waitUntil("\(prefix):switch-unused", every: settings.pollInterval, timeout: settings.shutdownTimeout) { () -> PollResult<Int> in
            let switches = try await cloud.findSwitches(query)
            var used: [String] = []
            for item in switches {
                let servers = try await cloud.serversOnSwitch(item.id)
                if servers > 0 { used.append("\(item.name) (\(servers) server\(servers == 1 ? "" : "s"))") }
            }
            return used.isEmpty ? .done(switches.count) : .notYet("switch still used by servers: " + used.joined(separator: ", "))
        }
        let switches = try await context.step("\(prefix):delete-switch", retry: retry) { _ -> Int in
            let switches = try await cloud.findSwitches(query)
            for item in switches { try await cloud.deleteSwitch(item.id) }
            return switches.count
        }
        return TeardownResult(servers: deleted.servers, disks: deleted.disks + disks, switches: switches)
    }
}
