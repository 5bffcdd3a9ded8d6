import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Testing

/// Provisions three simulated servers, then drives the simulated node tools over the real sshd the way the
/// cluster workflows will: init, join, CNI, get nodes, readyz, backup, password patch, injected failures.
@Suite("Simulated node tools over SSH", .timeLimit(.minutes(1)))
struct NodeToolsTests {
    @Test(.needsSSHD) func initJoinGetNodesAndBackup() async throws {
        let sshd = try TestSSHD.fromEnvironment()
        // A key of the cluster's own, installed by the disk edit as on real nodes.
        let clusterKey = SSHIdentity.generate()
        let ssh = SSHExecutor(
            configuration: SSHConfiguration(
                identity: clusterKey, knownHosts: KnownHostsFile(path: TestEnvironment.temporaryPath("known_hosts")),
                connectTimeout: .seconds(2), connectAttempts: 2, connectRetryWait: .milliseconds(50)))
        let world = "test-\(UUID().uuidString.prefix(8))"
        let configuration = SakuraSimulatorConfiguration(
            nodes: SimulatedNodes(port: sshd.port, world: world, authorizedKeysFile: sshd.directory + "/authorized_keys"))
        try await withSimulator(configuration) { _, client in
            let archive = try await client.findUbuntuArchive()
            var nodes: [String: SSHEndpoint] = [:]
            for name in ["master-1", "master-2", "worker-1"] {
                let server = try await client.findOrCreateServer(
                    ServerSpec(name: name, cpu: 2, memoryMB: 4096), operation: OperationTag(run: world, step: "server:\(name)")
                ).resource
                _ = try await client.findOrCreateDisk(
                    DiskSpec(name: name, sourceArchiveID: archive.id, serverID: server.id,
                             edit: DiskEdit(hostName: name, sshPublicKeys: [clusterKey.publicKeyLine]),
                             bootAtAvailable: true),
                    operation: OperationTag(run: world, step: "disk:\(name)"))
                try await eventually("\(name) up", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .up).ready }
                nodes[name] = try await client.getServer(server.id).sshEndpoint()
            }
            let master1 = try #require(nodes["master-1"])
            #expect(master1.environment["KAJI_NODE"] == "master-1")

            let initOutput = try await ssh.runChecked(
                Kubeadm.initCommand(controlPlaneEndpoint: "192.168.100.10", advertiseAddress: "192.168.100.11"),
                on: master1, deadline: .seconds(20))
            let join = try #require(Kubeadm.parseJoin(initOutput.stdout))
            #expect(join.endpoint == "192.168.100.10:6443")
            #expect(join.caCertHash.hasPrefix("sha256:"))
            #expect(join.certificateKey?.count == 64)
            #expect(Kubeadm.parseCertificateKey(initOutput.stdout) == join.certificateKey)
            #expect(!"\(join)".contains(join.token))

            let beforeCNI = try await ssh.runChecked(Kubectl.getNodesCommand, on: master1, deadline: .seconds(20))
            #expect(Kubectl.parseNodes(beforeCNI.stdout).map(\.isReady) == [false])

            let master2 = try #require(nodes["master-2"])
            let worker1 = try #require(nodes["worker-1"])
            let joined = try await ssh.runChecked(Kubeadm.joinCommand(join, asControlPlane: true), on: master2, deadline: .seconds(20))
            #expect(joined.stdout.contains("a new control plane instance was created"))
            _ = try await ssh.runChecked(Kubeadm.joinCommand(join, asControlPlane: false), on: worker1, deadline: .seconds(20))
            _ = try await ssh.runChecked(Kubectl.applyCommand("https://example.invalid/flannel.yml"), on: master1, deadline: .seconds(20))

            let table = try await ssh.runChecked(Kubectl.getNodesCommand, on: master2, deadline: .seconds(20))
            let parsed = Kubectl.parseNodes(table.stdout)
            #expect(parsed.map(\.name) == ["master-1", "master-2", "worker-1"])
            #expect(parsed.allSatisfy { $0.isReady })
            #expect(parsed.filter(\.isControlPlane).count == 2)

            let readyz = ReadyzReport.parse(try await ssh.runChecked(Kubectl.readyzCommand, on: master1, deadline: .seconds(20)).stdout)
            #expect(readyz.passed && readyz.checks.contains { $0.name == "etcd" && $0.ok })

            // A worker has no admin kubeconfig.
            let noConfig = try await ssh.run(Kubectl.getNodesCommand, on: worker1, deadline: .seconds(20))
            #expect(noConfig.exitStatus == 1 && noConfig.stderr.contains("localhost:8080 was refused"))

            // Velero: --wait exits 0 on a partially failed backup; the phase tells the truth.
            _ = try await ssh.runChecked("kaji-sim-node set backup-phase PartiallyFailed", on: master1, deadline: .seconds(20))
            let backup = try await ssh.run(Velero.backupCreateCommand(name: "nightly-1", includeNamespaces: ["app"]), on: master1, deadline: .seconds(20))
            #expect(backup.exitStatus == 0)
            #expect(Velero.parseCompletion(backup.stdout) == .partiallyFailed)
            let phase = try await ssh.runChecked(Velero.phaseCommand(backup: "nightly-1"), on: master1, deadline: .seconds(20))
            #expect(BackupPhase(rawValue: phase.stdout) == .partiallyFailed)
            #expect(BackupPhase(rawValue: phase.stdout).isFinal && !BackupPhase(rawValue: phase.stdout).isSuccess)

            // Argo CD password rotation: hash, patch and login all take the password on stdin.
            let password = "n3w-Passw0rd-\(UUID().uuidString.prefix(6))"
            let hash = try await ssh.runChecked(ArgoCD.bcryptFromStdinCommand, on: master1, stdin: password + "\n", deadline: .seconds(20))
            let bcrypt = hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(bcrypt.hasPrefix("$2") && !bcrypt.contains(password))
            let patch = ArgoCD.passwordPatch(bcryptHash: bcrypt, mtime: Date(timeIntervalSince1970: 0))
            let patched = try await ssh.runChecked(ArgoCD.patchSecretFromStdinCommand, on: master1, stdin: patch, deadline: .seconds(20))
            #expect(patched.stdout == "secret/argocd-secret patched\n")
            _ = try await ssh.runChecked(ArgoCD.deleteInitialSecretCommand, on: master1, deadline: .seconds(20))
            _ = try await ssh.runChecked(ArgoCD.deleteInitialSecretCommand, on: master1, deadline: .seconds(20))
            let login = try await ssh.run(
                ArgoCD.loginFromStdinCommand(server: "argocd.example"), on: master1, stdin: password + "\n", deadline: .seconds(20))
            #expect(login.exitStatus == 0 && login.stdout.contains("logged in successfully"))
            let wrong = try await ssh.run(
                ArgoCD.loginFromStdinCommand(server: "argocd.example"), on: master1, stdin: "wrong\n", deadline: .seconds(20))
            #expect(wrong.exitStatus == 20 && wrong.stderr.contains("Invalid username or password"))

            // Injected failures: the next scale-out join fails with the given status and stderr.
            _ = try await ssh.runChecked(
                "kaji-sim-node fail 'kubeadm join' --exit 4 --stderr 'error execution phase preflight: simulated'",
                on: master1, deadline: .seconds(20))
            let fresh = try await ssh.runChecked(Kubeadm.printJoinCommand(), on: master1, deadline: .seconds(20))
            let freshJoin = try #require(Kubeadm.parseJoin(fresh.stdout))
            #expect(freshJoin.token != join.token && freshJoin.certificateKey == nil)
            let failed = try await ssh.run(Kubeadm.joinCommand(freshJoin, asControlPlane: false), on: worker1, deadline: .seconds(20))
            #expect(failed.exitStatus == 4 && failed.stderr.contains("simulated"))
            let readyzFailing = try await ssh.runChecked("kaji-sim-node set readyz-failing etcd", on: master1, deadline: .seconds(20))
            #expect(readyzFailing.succeeded)
            let unhealthy = try await ssh.run(Kubectl.readyzCommand, on: master1, deadline: .seconds(20))
            let report = ReadyzReport.parse(unhealthy.stdout)
            #expect(unhealthy.exitStatus == 1 && !report.passed && report.failing == ["etcd"])
        }
    }

    @Test func parsersReadRealToolOutput() {
        let initTail = """
            [upload-certs] Using certificate key:
            f8902e114ef118304e561c3ecd4d0b543adc226b7a07f675f56564185ffe0c07

            You can now join any number of control-plane node by running the following command on each as a root:
              kubeadm join 192.168.0.200:6443 --token 9vr73a.a8uxyaju799qwdjv --discovery-token-ca-cert-hash sha256:7c2e69131a36ae2a042a339b33381c6d0d43887e2de83720eff5359e26aec866 --control-plane --certificate-key f8902e114ef118304e561c3ecd4d0b543adc226b7a07f675f56564185ffe0c07

            Then you can join any number of worker nodes by running the following on each as root:
              kubeadm join 192.168.0.200:6443 --token 9vr73a.a8uxyaju799qwdjv --discovery-token-ca-cert-hash sha256:7c2e69131a36ae2a042a339b33381c6d0d43887e2de83720eff5359e26aec866
            """
        let join = Kubeadm.parseJoin(initTail)
        #expect(join?.token == "9vr73a.a8uxyaju799qwdjv")
        #expect(join?.certificateKey == "f8902e114ef118304e561c3ecd4d0b543adc226b7a07f675f56564185ffe0c07")
        #expect(Kubeadm.parseCertificateKey(initTail) == join?.certificateKey)
        let warned = "W1126 remote version is much newer: v1.36.0; falling back to: stable-1.35\nkubeadm join api.example:6443 --token jksc4g.zkvk38oruf9suy2v --discovery-token-ca-cert-hash sha256:9f96\n"
        #expect(Kubeadm.parseJoin(warned)?.endpoint == "api.example:6443")
        #expect(Kubeadm.parseJoin("nothing here") == nil)
        let failing = ReadyzReport.parse("[+]ping ok\n[-]etcd failed: reason withheld\n[+]etcd excluded: ok\nreadyz check failed\n")
        #expect(!failing.passed && failing.failing == ["etcd"])
        #expect(Velero.parseCompletion("Backup completed with status: Completed. You may check") == .completed)
        #expect(Velero.parseCompletion("Error waiting: unable to watch backups.") == nil)
        #expect(BackupPhase(rawValue: "") == .new)
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
        #expect(ShellQuote.join(["kubectl", "-o", "jsonpath={.status.phase}"]) == "kubectl -o 'jsonpath={.status.phase}'")
    }
}
