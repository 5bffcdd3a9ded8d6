import Engine
import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Testing
@testable import Workflows

/// End to end: real PostgreSQL, the simulator over HTTP, the real sshd with the simulated node tools, an
/// in-process worker pool.
@Suite("Cluster provision, scale-out and delete, end to end", .serialized, .timeLimit(.minutes(3)), .needsDatabaseAndSSHD)
struct ProvisionTests {
    /// Checks the cloud and the simulated cluster hold exactly the cluster `name` with these nodes.
    func expectComplete(_ env: ClusterTestEnvironment, name: String, masters: Int, workers: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let servers = try await env.resources("Servers")
        let disks = try await env.resources("Disks")
        let switches = try await env.resources("Switches")
        #expect(switches.count == 1, "switches", sourceLocation: sourceLocation)
        #expect(servers.count == masters + workers, "servers", sourceLocation: sourceLocation)
        #expect(disks.count == masters + workers, "disks", sourceLocation: sourceLocation)
        for resource in servers + disks + switches {
            let tags = resource["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(tags.contains(ClusterTags.cluster(name)), "\(resource["Name"]?.stringValue ?? "?") carries the cluster tag", sourceLocation: sourceLocation)
            #expect(tags.contains { $0.hasPrefix("kaji-op=") }, "and its operation tag", sourceLocation: sourceLocation)
        }
        let serverNames = Set(servers.compactMap { $0["Name"]?.stringValue })
        let expected = Set((1...masters).map { "\(name)-master-\($0)" } + (0..<workers).map { "\(name)-worker-\($0 + 1)" })
        #expect(serverNames == expected, sourceLocation: sourceLocation)
        for server in servers {
            #expect(server["Instance"]?["Status"]?.stringValue == "up", sourceLocation: sourceLocation)
        }
        let cluster = try #require(try env.simulatedCluster(), sourceLocation: sourceLocation)
        #expect(cluster.endpoint == "192.168.100.10:6443", sourceLocation: sourceLocation)
        #expect(cluster.cni, sourceLocation: sourceLocation)
        #expect(Set(cluster.nodes.map(\.name)) == expected, sourceLocation: sourceLocation)
        #expect(cluster.nodes.count == masters + workers, "every node joined once", sourceLocation: sourceLocation)
        #expect(cluster.nodes.filter { $0.role == "control-plane" }.count == masters, sourceLocation: sourceLocation)
    }

    @Test("provision 3+2 after a second user's approval: 1 switch, 5 servers, 5 disks, 5 Ready nodes, inventory, owners can SSH in, no join secret stored")
    func provisionThreeMastersTwoWorkers() async throws {
        try await ClusterTestEnvironment.with { env in
            let owner = SSHIdentity.generate()
            let spec = testClusterSpec(name: "prod-a", ownerKeys: [owner.publicKeyLine])
            let pool = env.startPool()
            let id = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.provision, input: try KajiJSON.string(ProvisionInput(spec: spec)),
                                                                 concurrencyKey: spec.concurrencyKey, actor: "token:alice")).id
            try await env.waitForApproval(id)
            #expect(try await env.resources("Servers").isEmpty, "nothing is created before the approval")
            await #expect(throws: KajiError.self, "the requester cannot approve her own request") {
                try await env.client.decide(runID: id, approved: true, reason: nil, sender: "token:alice")
            }
            await #expect(throws: KajiError.self, "an approval from the database-direct CLI does not count for a provision") {
                try await env.client.decide(runID: id, approved: true, reason: nil, sender: "cli:bob@host")
            }
            try await env.client.decide(runID: id, approved: true, reason: "ok", sender: "token:bob")
            let run = try await env.waitForFinish(id)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await expectComplete(env, name: "prod-a", masters: 3, workers: 2)

            let detail = try #require(try await env.store.runDetail(id: id))
            let output = try KajiJSON.decode(ProvisionOutput.self, from: try #require(detail.output))
            #expect(output.approvedBy == "token:bob")
            #expect(output.nodes.count == 5)
            for node in ["prod-a-master-1", "prod-a-worker-2"] {
                for step in ["create-server", "create-disk", "connect-nic", "disk-ready", "power-on", "server-up", "ssh-ready", "owner-keys"] {
                    #expect(detail.steps.contains { $0.name == "\(step):\(node)" && $0.state == .succeeded }, "\(step):\(node)")
                }
            }
            #expect(detail.steps.contains { $0.name == "kubeadm-init:prod-a-master-1" && $0.state == .succeeded })
            #expect(detail.steps.contains { $0.name == "join:prod-a-master-3" && $0.state == .succeeded })
            for step in ["kube-vip:prod-a-master-1", "kube-vip-admin-conf:prod-a-master-1", "kube-vip:prod-a-master-2", "apply-cni", "cluster-ready", "record-inventory"] {
                #expect(detail.steps.contains { $0.name == step && $0.state == .succeeded }, "\(step)")
            }
            // kube-vip's static Pod (the simulated masters share one file system): back on admin.conf after init.
            let kubeVIP = try String(contentsOfFile: env.settings.manifestDirectory + "/kube-vip.yaml", encoding: .utf8)
            #expect(kubeVIP.contains(#"{name: address, value: "192.168.100.10"}"#) && kubeVIP.contains("path: /etc/kubernetes/admin.conf"))

            let record = try #require(try await env.services.inventory.get("prod-a"))
            #expect(record.state == "ready")
            #expect(record.apiEndpoint == "https://192.168.100.10:6443")
            #expect(record.switchID != nil)
            #expect(record.nodes.count == 5)
            #expect(Set(record.nodes.map(\.address)) == Set((11...15).map { "192.168.100.\($0)" }))
            #expect(record.nodes.filter { $0.role == .master }.count == 3)
            for node in record.nodes {
                #expect(node.sshEnvironment["KAJI_NODE"] == node.name)
                #expect(node.sshPort == env.sshd.port)
            }

            // The owner's key went onto the nodes: the owner can SSH in with it.
            let node = try #require(record.nodes.first)
            let ownerSSH = SSHExecutor(configuration: SSHConfiguration(identity: owner, knownHosts: KnownHostsFile(path: env.settings.ownerKeysFile + ".known_hosts")))
            let hostname = try await ownerSSH.runChecked("echo $KAJI_NODE", on: SSHEndpoint(host: node.sshHost, port: node.sshPort, user: node.sshUser, environment: node.sshEnvironment))
            await ownerSSH.closeConnections()
            #expect(hostname.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == node.name)
            let installed = try String(contentsOfFile: env.settings.ownerKeysFile, encoding: .utf8)
            #expect(installed.contains(owner.publicKeyLine))

            // Join tokens and certificate keys were never stored: not in results, errors, waits or audit.
            let cluster = try #require(try env.simulatedCluster())
            let secrets = (cluster.issuedTokens ?? []) + (cluster.issuedCertificateKeys ?? [])
            #expect(secrets.count >= 5)
            #expect(cluster.tokens.isEmpty, "every bootstrap token was revoked after the joins")
            for secret in secrets {
                let hits = try await env.scalarInt("""
                    SELECT (SELECT count(*) FROM steps WHERE strpos(coalesce(result::text, '') || coalesce(error, '') || coalesce(wait::text, ''), \(secret)) > 0)
                         + (SELECT count(*) FROM step_attempts WHERE strpos(coalesce(error, ''), \(secret)) > 0)
                         + (SELECT count(*) FROM audit_events WHERE strpos(coalesce(detail::text, ''), \(secret)) > 0)
                         + (SELECT count(*) FROM run_payloads WHERE strpos(coalesce(output::text, ''), \(secret)) > 0)
                    """)
                #expect(hits == 0, "a join secret is stored")
            }
        }
    }

    @Test("a worker pool crashed mid-provisioning (its database connections cut): a second pool finishes the cluster with exactly 5 servers")
    func crashDuringProvisioning() async throws {
        try await ClusterTestEnvironment.with { env in
            let spec = testClusterSpec(name: "crash-a")
            let first = env.startCrashablePool(leaseSeconds: 2, id: "pool-1")
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            // Crash the first pool while servers are being made (some created, not all steps done).
            try await eventually("some servers exist") { try await env.resources("Servers").count >= 2 }
            await first.crash()
            let stateAfterCrash = try #require(try await env.store.run(id: id))
            #expect(!stateAfterCrash.state.isFinished)
            #expect(try await env.resources("Servers").count <= 5)
            let second = env.startPool(leaseSeconds: 2, id: "pool-2")
            let run = try await env.waitForFinish(id)
            try await second.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await expectComplete(env, name: "crash-a", masters: 3, workers: 2)
            let record = try #require(try await env.services.inventory.get("crash-a"))
            #expect(record.state == "ready" && record.nodes.count == 5)
            let events = try await env.store.runDetail(id: id)?.events.map(\.type) ?? []
            #expect(!events.contains("run.released"), "the crashed pool gave nothing back")
            if stateAfterCrash.state == .running {
                #expect(events.contains("lease.expired"), "the crashed pool's lease ran out and the run was rescued")
            }
            let workers = try await env.scalarInt("SELECT count(DISTINCT worker)::int8 FROM step_attempts WHERE run_id = \(id)")
            #expect(workers == 2, "both pools ran steps of the run")
        }
    }

    @Test("scale-out from 2 to 4 workers creates and joins exactly the 2 missing nodes")
    func scaleOutTwoToFourWorkers() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "grow-a", masters: 1, workers: 2)
            let provision = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            #expect(try await env.waitForFinish(provision).state == .succeeded)
            let before = try #require(try await env.services.inventory.get("grow-a"))
            let serversBefore = Set(try await env.resources("Servers").compactMap { $0["ID"]?.stringValue })
            #expect(serversBefore.count == 3)

            var bigger = spec
            bigger.workers.replicas = 4
            let scale = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: bigger)),
                                                                    concurrencyKey: bigger.concurrencyKey, actor: "cli:alice@host")).id
            let run = try await env.waitForFinish(scale)
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            let servers = try await env.resources("Servers")
            let added = servers.filter { !serversBefore.contains($0["ID"]?.stringValue ?? "") }
            #expect(added.count == 2)
            #expect(Set(added.compactMap { $0["Name"]?.stringValue }) == ["grow-a-worker-3", "grow-a-worker-4"])
            try await expectComplete(env, name: "grow-a", masters: 1, workers: 4)
            let detail = try #require(try await env.store.runDetail(id: scale))
            let output = try KajiJSON.decode(ScaleOutOutput.self, from: try #require(detail.output))
            #expect(output.added == ["grow-a-worker-3", "grow-a-worker-4"])
            #expect(!detail.steps.contains { $0.name.contains("worker-1") || $0.name.contains("master-1") && $0.name.hasPrefix("create") })
            let after = try #require(try await env.services.inventory.get("grow-a"))
            #expect(after.state == "ready")
            #expect(after.nodes.count == 5)
            #expect(after.spec.workers.replicas == 4)
            let kept = Dictionary(uniqueKeysWithValues: before.nodes.map { ($0.name, $0.address) })
            for node in after.nodes where kept[node.name] != nil {
                #expect(kept[node.name] == node.address, "existing nodes keep their addresses")
            }

            // Applying the same manifest again adds nothing.
            let again = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: bigger)), actor: "cli:alice@host")).id
            #expect(try await env.waitForFinish(again).state == .succeeded)
            #expect(try await env.resources("Servers").count == 5)
            try await pool.stop()
        }
    }

    @Test("scale-out from 1 to 3 masters joins the new control-plane nodes with fresh certificate keys")
    func scaleOutMasters() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            var spec = testClusterSpec(name: "cp-a", masters: 1, workers: 1)
            let provision = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            #expect(try await env.waitForFinish(provision).state == .succeeded)
            let keyAfterInit = try #require(try env.simulatedCluster()?.certificateKey)
            spec.masters.replicas = 3
            let scale = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.scaleOut, input: try KajiJSON.string(ScaleOutInput(spec: spec)), actor: "cli:alice@host")).id
            let run = try await env.waitForFinish(scale)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await expectComplete(env, name: "cp-a", masters: 3, workers: 1)
            #expect(try env.simulatedCluster()?.certificateKey != keyAfterInit, "upload-certs made a fresh key")
            let record = try #require(try await env.services.inventory.get("cp-a"))
            #expect(record.nodes.map(\.name).sorted() == ["cp-a-master-1", "cp-a-master-2", "cp-a-master-3", "cp-a-worker-1"])
            #expect(record.nodes.first { $0.name == "cp-a-master-2" }?.address == "192.168.100.13", "after the existing block")
        }
    }

    @Test("faults on ~10% of every cloud call, lost answers of creates included: still exactly one of each resource")
    func faultsOnEveryCloudCall() async throws {
        let faults = try FaultRule.parseList(
            "GET *=busy,p=0.1;PUT *=busy,p=0.1;DELETE *=busy,p=0.1;POST /switch=timeout,after,p=0.1;"
                + "POST /server=timeout,after,p=0.1;POST /disk=reset,after,p=0.1;POST /interface=busy,p=0.1;PUT /server/*/power=500,after,p=0.1;"
                // and for certain, one lost answer of each create
                + "POST /switch=500,after,times=1;POST /server=timeout,after,times=1;POST /disk=reset,after,times=1")
        try await ClusterTestEnvironment.with(faults: faults) { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "flaky-a")
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            let run = try await env.waitForFinish(id)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await expectComplete(env, name: "flaky-a", masters: 3, workers: 2)
            let fired = (try await env.cloudState()["FaultsFired"]?.arrayValue ?? []).compactMap(\.stringValue)
            for resource in ["switch", "server", "disk"] {
                #expect(fired.contains { $0.hasPrefix("POST") && $0.contains("/\(resource) ") && $0.hasSuffix(" after") }, "an answer to POST /\(resource) was lost: \(fired)")
            }
            #expect(fired.count >= 5, "faults fired: \(fired.count)")
        }
    }

    @Test("delete after approval tears everything down by the cluster's tag, an orphan disk included, and marks it deleted")
    func deleteTearsDown() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "gone-a", masters: 1, workers: 1)
            let provision = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            #expect(try await env.waitForFinish(provision).state == .succeeded)
            // A disk the inventory never heard of, tagged with the cluster (e.g. a create whose run was lost).
            let archive = try await env.services.cloud.findUbuntuArchive()
            _ = try await env.services.cloud.createDisk(DiskSpec(name: "orphan", tags: [ClusterTags.cluster("gone-a")], sourceArchiveID: archive.id))
            // Another cluster's resources are left alone.
            _ = try await env.services.cloud.createSwitch(SwitchSpec(name: "other", tags: [ClusterTags.cluster("other-b")]))

            let knownHosts = env.services.ssh.configuration.knownHosts.path
            let pinned = "[127.0.0.1]:\(env.sshd.port) "
            #expect(try String(contentsOfFile: knownHosts, encoding: .utf8).contains(pinned))

            let id = try await env.enqueueApproved(kind: ClusterKinds.delete, input: DeleteInput(name: "gone-a"))
            let run = try await env.waitForFinish(id)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            #expect(try await env.resources("Servers").isEmpty)
            #expect(try await env.resources("Disks").isEmpty)
            #expect(try await env.resources("Switches").compactMap { $0["Name"]?.stringValue } == ["other"])
            let detail = try #require(try await env.store.runDetail(id: id))
            let output = try KajiJSON.decode(DeleteOutput.self, from: try #require(detail.output))
            #expect(output == DeleteOutput(cluster: "gone-a", servers: 2, disks: 3, switches: 1, approvedBy: "token:bob"))
            #expect(try await env.services.inventory.get("gone-a")?.state == "deleted")
            #expect(!(try String(contentsOfFile: knownHosts, encoding: .utf8)).contains(pinned), "deleted nodes' host keys are forgotten")
        }
    }

    @Test("cancelling a provision mid-way tears down what it created, adopting by tag")
    func cancelTearsDown() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "undo-a", masters: 1, workers: 2)
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            try await eventually("servers exist") { try await env.resources("Servers").count >= 2 }
            _ = try await env.client.cancel(runID: id, reason: "wrong plan", actor: "cli:carol@host")
            // Well before the pool's 30 s lease could run out: the cancel is handled, not rescued.
            let run = try await env.waitForFinish(id, timeout: .seconds(15))
            try await pool.stop()
            #expect(run.state == .cancelled)
            #expect(try await env.resources("Servers").isEmpty)
            #expect(try await env.resources("Disks").isEmpty)
            #expect(try await env.resources("Switches").isEmpty)
            let detail = try #require(try await env.store.runDetail(id: id))
            #expect(detail.steps.contains { $0.name == "undo:done" && $0.state == .succeeded })
            #expect(!detail.events.contains { $0.type == "lease.expired" })
            #expect(try await env.services.inventory.get("undo-a")?.state == "deleted")
        }
    }

    @Test("a final failure leaves a clear error and tears down; kaji retry then builds the cluster again, once")
    func failureThenRetry() async throws {
        try await ClusterTestEnvironment.with { env in
            let pool = env.startPool()
            let spec = testClusterSpec(name: "again-a", masters: 1, workers: 1)
            // Every attempt of kubeadm init fails (the step makes 5).
            let injector = SSHEndpoint(host: "127.0.0.1", port: env.sshd.port, environment: ["KAJI_SIM_WORLD": env.world, "KAJI_NODE": "injector"])
            _ = try await env.services.ssh.runChecked("kaji-sim-node fail 'kubeadm init' --times 5 --stderr 'error execution phase preflight: [ERROR CRI]: container runtime is not running'", on: injector)
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            let failed = try await env.waitForFinish(id)
            #expect(failed.state == .failed)
            let error = failed.lastError ?? ""
            #expect(error.contains("kubeadm-init:again-a-master-1") && error.contains("container runtime is not running"), "\(error)")
            #expect(try await env.resources("Servers").isEmpty, "the failure tore down what the run created")
            #expect(try await env.resources("Switches").isEmpty)
            #expect(try await env.services.inventory.get("again-a")?.state == "deleted")

            _ = try await env.store.retryRun(id: id, actor: "cli:bob@host")
            let run = try await env.waitForFinish(id)
            try await pool.stop()
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")
            try await expectComplete(env, name: "again-a", masters: 1, workers: 1)
            let detail = try #require(try await env.store.runDetail(id: id))
            #expect(detail.steps.contains { $0.name == "g2/create-server:again-a-master-1" && $0.state == .succeeded })
            #expect(try await env.services.inventory.get("again-a")?.state == "ready")
        }
    }
}
