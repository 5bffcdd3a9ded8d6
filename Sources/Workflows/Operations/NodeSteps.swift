import Engine
import Foundation
import Logging
import Provisioner

/// How a node is reached over SSH, as a step result and in the inventory.
struct NodeEndpoint: Codable, Sendable, Equatable {
    var host: String
    var port: Int
    var user: String
    var environment: [String: String]

    init(_ endpoint: SSHEndpoint) {
        host = endpoint.host
        port = endpoint.port
        user = endpoint.user
        environment = endpoint.environment
    }

    init(_ node: ClusterNode) {
        host = node.sshHost
        port = node.sshPort
        user = node.sshUser
        environment = node.sshEnvironment
    }

    var ssh: SSHEndpoint { SSHEndpoint(host: host, port: port, user: user, environment: environment) }
}

/// A node whose server and disk exist, is up and answers SSH.
struct BuiltNode: Codable, Sendable, Equatable {
    var plan: PlannedNode
    var serverID: String
    var diskID: String
    var endpoint: NodeEndpoint

    var name: String { plan.name }

    var inventoryNode: ClusterNode {
        ClusterNode(name: plan.name, role: plan.role, serverID: serverID, diskID: diskID, address: plan.address,
                    sshHost: endpoint.host, sshPort: endpoint.port, sshUser: endpoint.user, sshEnvironment: endpoint.environment)
    }
}

/// What `kubeadm init` established (no secrets: the token and certificate key are never stored).
struct InitResult: Codable, Sendable {
    var endpoint: String
    var caCertHash: String
}

/// The cluster's state when it was found ready.
struct ReadyResult: Codable, Sendable {
    var nodes: [NodeStatus]
    var readyzChecks: Int
}

/// The steps the cluster workflows share: cloud resources per node, node commands, readiness. Every
/// method is one or more named, checkpointed steps of `context`; names carry the node's name.
struct ClusterSteps: Sendable {
    let services: ClusterServices
    let settings: ClusterWorkflowSettings
    let context: WorkflowContext
    let names: StepNames
    let spec: ClusterSpec

    init(services: ClusterServices, settings: ClusterWorkflowSettings, context: WorkflowContext, spec: ClusterSpec) throws {
        self.services = services
        self.settings = settings
        self.context = context
        self.spec = spec
        self.names = try StepNames(context: context)
    }

    var cloud: SakuraCloudClient { services.cloud }
    var runID: UUID { context.runID }

    /// The manifest must be valid (the workflows may be enqueued without `kaji apply`, which validates
    /// first), and name the zone the cloud client serves.
    static func checkSpec(_ spec: ClusterSpec, cloud: SakuraCloudClient) throws {
        let problems = spec.problems()
        guard problems.isEmpty else {
            throw WorkflowError("the manifest of cluster \(spec.name) is not valid: " + problems.map(\.description).joined(separator: "; "), nonRetryable: true)
        }
        guard spec.zone == cloud.zone else {
            throw WorkflowError("zone '\(spec.zone)' of cluster \(spec.name) is not the zone this worker's SAKURA Cloud client serves ('\(cloud.zone)'); run it on a worker configured for \(spec.zone)", nonRetryable: true)
        }
    }

    // MARK: cloud steps

    /// A step calling the cloud: retried per `settings.cloudRetry`, except for errors no retry can fix
    /// (bad request, credentials, account limits).
    func cloudStep<T: Codable & Sendable>(_ name: String, _ body: @escaping @Sendable (OperationTag) async throws -> T) async throws -> T {
        let operation = names.operation(name, context: context)
        return try await context.step(name, retry: settings.cloudRetry) { _ in
            do {
                return try await body(operation)
            } catch let error as SakuraCloudError where Self.isPermanent(error) {
                throw WorkflowError(error.description, nonRetryable: true)
            }
        }
    }

    static func isPermanent(_ error: SakuraCloudError) -> Bool {
        guard let status = error.status else { return false }
        return [400, 401, 403].contains(status) || (status == 409 && (error.code ?? "").hasPrefix("limit_"))
    }

    /// The Ubuntu archive disks are copied from.
    func findArchive() async throws -> String {
        let version = settings.ubuntuVersion
        return try await cloudStep(names("find-archive")) { _ in
            try await cloud.findUbuntuArchive(version: version).id.rawValue
        }
    }

    /// The cluster's private switch, found by its operation tag or created.
    func createSwitch() async throws -> String {
        let spec = self.spec, runID = self.runID
        return try await cloudStep(names("create-switch")) { operation in
            let switchSpec = SwitchSpec(name: "\(spec.name)-switch", description: "Kaji cluster \(spec.name): private network \(spec.network.subnet)",
                                        tags: ClusterTags.forSwitch(cluster: spec.name, run: runID))
            return try await cloud.findOrCreateSwitch(switchSpec, operation: operation).resource.id.rawValue
        }
    }

    /// Server, disk, NIC on the switch, power; then durable waits until the disk is copied, the server is up
    /// and SSH answers.
    func build(_ node: PlannedNode, switchID: String, archiveID: String) async throws -> BuiltNode {
        let spec = self.spec, runID = self.runID, cloud = self.cloud, settings = self.settings
        let pool = node.role == .master ? spec.masters : spec.workers
        let tags = ClusterTags.forNode(node, cluster: spec.name, run: runID)
        let serverID = try await cloudStep(names("create-server", node.name)) { operation in
            // NIC 0 on the private switch: the disk edit below configures NIC 0 (see connectPrivateNIC).
            let server = ServerSpec(name: node.name, description: "Kaji cluster \(spec.name), \(node.role.rawValue) \(node.ordinal)", tags: tags,
                                    cpu: pool.plan.cpu, memoryMB: pool.plan.memoryGB * 1024,
                                    connectedSwitches: [.switch(SakuraID(switchID)), .shared])
            return try await cloud.findOrCreateServer(server, operation: operation).resource.id.rawValue
        }
        let keys = spec.owners.sshKeys + [services.ssh.configuration.identity.publicKeyLine]
        let prefix = try IPv4CIDR(parsing: spec.network.subnet, field: "network.subnet").prefix
        let diskID = try await cloudStep(names("create-disk", node.name)) { operation in
            // UserIPAddress/UserSubnet configure the server's NIC 0, here the private switch.
            let edit = DiskEdit(hostName: node.name, password: nil, sshPublicKeys: keys, disablePasswordAuth: true,
                                userIPAddress: node.address, networkMaskLength: prefix)
            let disk = DiskSpec(name: node.name, description: "Kaji cluster \(spec.name): boot disk of \(node.name)", tags: tags,
                                sizeMB: pool.diskGB * 1024, sourceArchiveID: SakuraID(archiveID), serverID: SakuraID(serverID), edit: edit)
            return try await cloud.findOrCreateDisk(disk, operation: operation).resource.id.rawValue
        }
        _ = try await cloudStep(names("connect-nic", node.name)) { _ -> String in
            try await Self.connectPrivateNIC(cloud: cloud, serverID: SakuraID(serverID), switchID: SakuraID(switchID))
        }
        _ = try await context.waitUntil(names("disk-ready", node.name), every: settings.pollInterval, timeout: settings.diskTimeout) { () -> PollResult<Bool> in
            let check = try await cloud.checkDiskAvailable(SakuraID(diskID))
            return check.ready ? .done(true) : .notYet("disk \(diskID): \(check.summary)")
        }
        _ = try await cloudStep(names("power-on", node.name)) { _ -> Bool in
            // The SDK's power helper: 409 still_creating is retried every 20 s for up to 30 min.
            let server = try await cloud.getServer(SakuraID(serverID))
            guard !server.isUp else { return true }
            do {
                try await cloud.powerOn(SakuraID(serverID))
            } catch let error as SakuraCloudError where error.status == 409 && error.code == "conflict" {
                // Already booting: an earlier attempt of this step was accepted (as the SDK counts a 409).
            }
            return true
        }
        let endpoint = try await context.waitUntil(names("server-up", node.name), every: settings.pollInterval, timeout: settings.bootTimeout) { () -> PollResult<NodeEndpoint> in
            let check = try await cloud.checkServerStatus(SakuraID(serverID), is: .up)
            guard check.ready else {
                // A boot accepted but not carried out: re-sent every 20 s while the server reads `down`.
                let resent = try await cloud.bootFollowUp(check.server)
                return .notYet("server \(serverID) is \(check.server.status)\(resent ? " (boot sent again)" : "")")
            }
            guard let endpoint = check.server.sshEndpoint(port: settings.sshPort, user: settings.sshUser) else {
                return .notYet("server \(serverID) is up but has no address yet")
            }
            return .done(NodeEndpoint(endpoint))
        }
        let ssh = services.ssh
        _ = try await context.waitUntil(names("ssh-ready", node.name), every: settings.pollInterval, timeout: settings.sshTimeout) { () -> PollResult<Bool> in
            try await ssh.checkReachable(endpoint.ssh) ? .done(true) : .notYet("SSH to \(endpoint.ssh) does not answer yet")
        }
        return BuiltNode(plan: node, serverID: serverID, diskID: diskID, endpoint: endpoint)
    }

    /// Makes sure NIC 0 of the server is on the cluster switch, the NIC the disk edit gives the node's private
    /// address (a disk edit's `UserIPAddress`/`UserSubnet` configure the first interface: iaas-api-go
    /// `fake/ops_disk.go`). The server is created with it connected; an answer lost on the way may have left
    /// it unconnected, and then it is connected (or, on a server with no NIC at all, added and connected).
    /// NIC 0 on anything else is an error no retry fixes.
    static func connectPrivateNIC(cloud: SakuraCloudClient, serverID: SakuraID, switchID: SakuraID) async throws -> String {
        let server = try await cloud.getServer(serverID)
        guard let first = server.interfaces.first else {
            let added = try await cloud.createInterface(serverID: serverID)
            try await cloud.connectInterface(added.id, toSwitch: switchID)
            return added.id.rawValue
        }
        if first.switchID == switchID { return first.id.rawValue }
        guard !first.isShared, first.switchID == nil else {
            let target = first.isShared ? "the shared segment" : "switch \(first.switchID?.rawValue ?? "?")"
            throw WorkflowError("NIC 0 of server \(server.name) (\(serverID)) is on \(target), not on the cluster switch \(switchID); the disk edit configures the node's private address on NIC 0, so delete the server and provision again", nonRetryable: true)
        }
        try await cloud.connectInterface(first.id, toSwitch: switchID)
        return first.id.rawValue
    }

    // MARK: node commands

    /// Runs `command` on a node and fails on a non-zero exit. Non-root users run it through `sudo -n`.
    func exec(_ command: String, on endpoint: NodeEndpoint, stdin: String? = nil, deadline: Duration? = nil) async throws -> SSHCommandResult {
        try await services.ssh.runChecked(Self.privileged(command, user: endpoint.user), on: endpoint.ssh, stdin: stdin,
                                          deadline: deadline ?? .seconds(60))
    }

    static func privileged(_ command: String, user: String) -> String {
        user == "root" ? command : "sudo -n sh -c \(ShellQuote.quote(command))"
    }

    static func kubectl(_ command: String) -> String {
        "KUBECONFIG=/etc/kubernetes/admin.conf " + command
    }

    /// The nodes `kubectl get nodes` lists on a master, or nil when the master has no cluster yet.
    func listNodes(on master: NodeEndpoint) async throws -> [NodeStatus]? {
        let result = try await services.ssh.run(Self.privileged(Self.kubectl(Kubectl.getNodesCommand), user: master.user), on: master.ssh)
        return result.succeeded ? Kubectl.parseNodes(result.stdout) : nil
    }

    /// Writes kube-vip's static Pod manifest on a master.
    func writeKubeVIP(on node: BuiltNode, superAdmin: Bool, step: String) async throws {
        let manifest = KubeVIP.manifest(vip: spec.network.controlPlaneVIP, interface: settings.kubeVIPInterface,
                                        image: settings.kubeVIPImage, superAdmin: superAdmin)
        let directory = ShellQuote.quote(settings.manifestDirectory)
        _ = try await context.step(step, retry: settings.nodeRetry) { _ -> Bool in
            _ = try await exec("mkdir -p \(directory) && cat > \(directory)/kube-vip.yaml", on: node.endpoint, stdin: manifest)
            return true
        }
    }

    /// kube-vip and `kubeadm init` on the first master (skipped when it already runs a cluster).
    func initFirstMaster(_ first: BuiltNode) async throws -> InitResult {
        let superAdmin = KubeVIP.needsSuperAdmin(kubernetesVersion: spec.kubernetesVersion)
        try await writeKubeVIP(on: first, superAdmin: superAdmin, step: names("kube-vip", first.name))
        let vip = spec.network.controlPlaneVIP
        let command = Kubeadm.initCommand(controlPlaneEndpoint: "\(vip):6443", advertiseAddress: first.plan.address,
                                          podNetworkCIDR: spec.network.podSubnet ?? "10.244.0.0/16", uploadCerts: true)
        let deadline = settings.nodeCommandDeadline
        let result = try await context.step(names("kubeadm-init", first.name), retry: settings.nodeRetry) { _ -> InitResult in
            if let nodes = try await listNodes(on: first.endpoint), nodes.contains(where: { $0.name == first.name }) {
                // An earlier attempt initialised it; its answer was lost.
                return InitResult(endpoint: "\(vip):6443", caCertHash: "")
            }
            let output = try await exec(command, on: first.endpoint, deadline: deadline).stdout
            // The join line and certificate key prove init finished; they are secrets and are not kept.
            guard let join = Kubeadm.parseJoin(output), join.certificateKey != nil || Kubeadm.parseCertificateKey(output) != nil else {
                throw WorkflowError("kubeadm init on \(first.name) exited 0 but printed no control-plane join command with a certificate key", nonRetryable: true)
            }
            // Nodes join with tokens of their own (see `join`): init's token is revoked at once.
            _ = try await exec(Kubeadm.tokenDeleteCommand(token: join.token), on: first.endpoint)
            return InitResult(endpoint: join.endpoint, caCertHash: join.caCertHash)
        }
        if superAdmin {
            try await writeKubeVIP(on: first, superAdmin: false, step: names("kube-vip-admin-conf", first.name))
        }
        return result
    }

    /// Joins a node through `master`, with join material made fresh inside the step (a bootstrap token valid
    /// one hour; for a master also a certificate key from `upload-certs`), so that no secret is ever stored.
    /// The material reaches the node only on stdin, as a `JoinConfiguration` in a root-only file removed
    /// afterwards (`Kubeadm.joinFromStdinScript`), never in a process argument; the token is revoked by its
    /// public id (`kubeadm token delete`) once the join is over, whether it worked or not. Skipped when the
    /// node is already in the cluster.
    func join(_ node: BuiltNode, via master: NodeEndpoint) async throws {
        let isMaster = node.plan.role == .master
        let deadline = settings.nodeCommandDeadline
        _ = try await context.step(names("join", node.name), retry: settings.nodeRetry) { _ -> Bool in
            if let nodes = try await listNodes(on: master), nodes.contains(where: { $0.name == node.name }) {
                return true
            }
            let printed = try await exec(Kubeadm.printJoinCommand(ttl: "1h"), on: master).stdout
            guard var material = Kubeadm.parseJoin(printed) else {
                throw WorkflowError("`kubeadm token create --print-join-command` on \(master.ssh) printed no join command")
            }
            let joined: Result<Void, any Error>
            do {
                if isMaster {
                    let uploaded = try await exec(Kubeadm.uploadCertsCommand, on: master).stdout
                    guard let key = Kubeadm.parseCertificateKey(uploaded) else {
                        throw WorkflowError("`\(Kubeadm.uploadCertsCommand)` on \(master.ssh) printed no certificate key")
                    }
                    material.certificateKey = key
                }
                let configuration = Kubeadm.joinConfiguration(material, asControlPlane: isMaster, advertiseAddress: isMaster ? node.plan.address : nil)
                _ = try await exec(Kubeadm.joinFromStdinScript, on: node.endpoint, stdin: configuration, deadline: deadline)
                joined = .success(())
            } catch {
                joined = .failure(error)
            }
            // The token has done its work (or failed): revoke it now rather than let it live out its TTL.
            do {
                _ = try await exec(Kubeadm.tokenDeleteCommand(token: material.token), on: master)
            } catch {
                if case .success = joined { throw error }
            }
            try joined.get()
            return true
        }
        if isMaster {
            try await writeKubeVIP(on: node, superAdmin: false, step: names("kube-vip", node.name))
        }
    }

    /// Joins control-plane nodes one after another (each `upload-certs` replaces the previous certificate
    /// key), then workers in parallel.
    func joinAll(_ nodes: [BuiltNode], via master: NodeEndpoint) async throws {
        for node in nodes where node.plan.role == .master {
            try await join(node, via: master)
        }
        _ = try await context.parallel(nodes.filter { $0.plan.role == .worker }) { node in
            try await self.join(node, via: master)
        }
    }

    /// Applies the CNI manifest on the first master.
    func applyCNI(on master: NodeEndpoint) async throws {
        let command = Self.kubectl(Kubectl.applyCommand(settings.cniManifest))
        _ = try await context.step(names("apply-cni"), retry: settings.nodeRetry) { _ -> Bool in
            _ = try await exec(command, on: master)
            return true
        }
    }

    /// Durable poll until `/readyz?verbose` passes with every check `[+]` and `kubectl get nodes` shows
    /// `expected` nodes, all Ready, `masters` of them control-plane.
    func waitReady(on master: NodeEndpoint, expected: Set<String>, masters: Int, step: String) async throws -> ReadyResult {
        let ssh = services.ssh
        return try await context.waitUntil(names(step), every: settings.pollInterval, timeout: settings.readyTimeout) { () -> PollResult<ReadyResult> in
            let readyz = try await ssh.run(Self.privileged(Self.kubectl(Kubectl.readyzCommand), user: master.user), on: master.ssh)
            let report = ReadyzReport.parse(readyz.stdout)
            guard report.passed, !report.checks.isEmpty else {
                return .notYet("readyz not passing (failing: \(report.failing.joined(separator: ", ")))")
            }
            let nodes = try await listNodes(on: master) ?? []
            let listed = Set(nodes.map(\.name))
            let missing = expected.subtracting(listed).sorted()
            let notReady = nodes.filter { !$0.isReady }.map(\.name).sorted()
            let controlPlanes = nodes.filter(\.isControlPlane).count
            guard missing.isEmpty, notReady.isEmpty, controlPlanes == masters else {
                return .notYet("nodes missing: [\(missing.joined(separator: ", "))], not Ready: [\(notReady.joined(separator: ", "))], control-plane \(controlPlanes)/\(masters)")
            }
            return .done(ReadyResult(nodes: nodes, readyzChecks: report.checks.count))
        }
    }

    /// Adds the owners' public keys to the node's `authorized_keys` (as the SSH user, not root), once each.
    func installOwnerKeys(on node: BuiltNode) async throws {
        let keys = spec.owners.sshKeys.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let file = settings.ownerKeysFile.hasPrefix("~/")
            ? "\"$HOME\"/" + ShellQuote.quote(String(settings.ownerKeysFile.dropFirst(2)))
            : ShellQuote.quote(settings.ownerKeysFile)
        let script = "f=\(file); mkdir -p \"$(dirname \"$f\")\" && touch \"$f\" && chmod 600 \"$f\" && "
            + "while IFS= read -r k; do [ -z \"$k\" ] || grep -qxF \"$k\" \"$f\" || printf '%s\\n' \"$k\" >> \"$f\"; done"
        let ssh = services.ssh
        _ = try await context.step(names("owner-keys", node.name), retry: settings.nodeRetry) { _ -> Int in
            _ = try await ssh.runChecked(script, on: node.endpoint.ssh, stdin: keys.joined(separator: "\n") + "\n")
            return keys.count
        }
    }
}
