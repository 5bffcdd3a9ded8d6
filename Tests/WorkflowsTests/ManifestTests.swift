import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

@Suite("Manifest")
struct ManifestTests {
    @Test("the examples are valid", arguments: ["demo.yaml", "prod-a.yaml"])
    func examplesAreValid(file: String) throws {
        let check = ClusterManifest.check(yaml: try ManifestRepo.example(file))
        #expect(check.problems.map(\.description) == [])
        #expect(check.isValid)
    }

    @Test("the demo manifest reads into the spec")
    func demoSpec() throws {
        let spec = try ClusterManifest.load(yaml: try ManifestRepo.example("demo.yaml"))
        #expect(spec.name == "demo")
        #expect(spec.zone == "is1a")
        #expect(spec.kubernetesVersion == "1.30.2")
        #expect(spec.masters == ClusterSpec.NodePool(replicas: 3, plan: .init(cpu: 2, memoryGB: 4), diskGB: 20))
        #expect(spec.workers.replicas == 2)
        #expect(spec.network.podSubnet == nil)
        #expect(spec.owners.sshKeys == [BadManifest.demoKey])
        #expect(spec.velero == ClusterSpec.Velero(storageLocation: "default", schedule: "0 3 * * *", ttl: "72h"))
        #expect(spec.outlineNodes.map(\.address) == ["192.168.100.11", "192.168.100.12", "192.168.100.13", "192.168.100.14", "192.168.100.15"])
        #expect(spec.outlineNodes.map(\.name) == ["demo-master-1", "demo-master-2", "demo-master-3", "demo-worker-1", "demo-worker-2"])
    }

    @Test("each bad manifest gets exactly its problems", arguments: BadManifest.cases)
    func badManifest(_ bad: BadManifest) throws {
        let check = ClusterManifest.check(yaml: try bad.yaml())
        #expect(check.problems.map(\.description) == bad.expected)
        #expect(!check.isValid)
        #expect(throws: ManifestError.self) { try ClusterManifest.load(yaml: try bad.yaml()) }
    }

    @Test("there are at least 12 bad manifests")
    func tableSize() {
        #expect(BadManifest.cases.count >= 12)
    }

    @Test("problems carry their YAML line")
    func lines() throws {
        let bad = BadManifest.cases.first { $0.name == "even masters" }
        let check = ClusterManifest.check(yaml: try #require(bad).yaml())
        #expect(check.problems.first?.line == 14)
    }

    @Test("a spec built in code is checked by the same rules")
    func validateSpec() throws {
        var spec = try ClusterManifest.load(yaml: try ManifestRepo.example("demo.yaml"))
        #expect(ClusterManifest.validate(spec).isEmpty)
        spec.workers.replicas = 60
        spec.network.loadBalancerRange = "192.168.100.220-192.168.100.200"
        #expect(ClusterManifest.validate(spec).map(\.description) == [
            #"network.loadBalancerRange: must be FIRST-LAST addresses like 192.168.100.200-192.168.100.220 (first not after last), got "192.168.100.220-192.168.100.200""#,
            "workers.replicas: must be from 0 to 50, got 60",
        ])
    }

    @Test("empty and non-mapping documents")
    func emptyDocuments() {
        #expect(ClusterManifest.check(yaml: "").problems.map(\.description) == [
            "manifest: is empty: expected a Cluster manifest starting with 'apiVersion: kaji/v1' and 'kind: Cluster'",
        ])
        #expect(ClusterManifest.check(yaml: "- a\n- b\n").problems.map(\.description) == [
            #"manifest: must be a mapping of fields (apiVersion, kind, name, zone, kubernetesVersion, network, masters, workers, owners, velero, healthCheck), got a list (line 1)"#,
        ])
    }

    @Test("YAML anchors and aliases are followed")
    func anchors() throws {
        let yaml = try ManifestRepo.example("demo.yaml")
            .replacingOccurrences(of: "masters:\n", with: "masters: &pool\n")
            .replacingOccurrences(of: "workers:\n  replicas: 2\n  plan: {cpu: 2, memoryGB: 4}\n  diskGB: 20\n", with: "workers: *pool\n")
        let spec = try ClusterManifest.load(yaml: yaml)
        #expect(spec.workers == spec.masters)
    }

    @Test("OpenSSH public keys")
    func sshKeys() {
        let good = [
            BadManifest.demoKey,
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC2jMDP0RGysB+exxOi8j/DTr/WDoF1oJSOzKyKNUpABfVaCF0wE1TeaemtmirOngpGXIpbdGfjG5jQG/qzHOgLK/Sw/Id6wb70a1d/fywqhCJ9LY0Lfp8Atf3rjlu28xrYoesh/OfppbUD41Mh5ZNZa/NuYKr59htIlZPWMLRwX417S9ARa9krqoInkzbmVRXDs61jccLScRFXCbdnHrll+Ihnc1gRxZpphnQ9cC2h4dLQBbY9FZhCVGKRFXmPNmENpsSEL31NhG/Ofx2+mYaNXMHjuYYbbI8AyzTZRNDfSTtjX/7YQ0vlHTbgFlDxuER5fPqlLStPZqevq6eeTeaJ ops-bot@example",
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNkx2FPCTks9DhXBMcDBaEcP3y9LC/VCekpvxy3Uwn39VApA+IuEmk4uoEen8w6vyBOSOW0H49fqYV3FM+V9oek=",
        ]
        for key in good {
            guard case .success = OpenSSHPublicKey.parse(key) else { Issue.record("\(key.prefix(30)) did not parse"); continue }
        }
        // An Ed25519 blob under the RSA type: the type inside the blob must match.
        #expect(OpenSSHPublicKey.parse("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBzy11l1FpGd+ga6ufVOPUDSKHe9SGQ6ETGNxt35HJBL") == .failure(.blobMismatch(type: "ssh-rsa")))
        #expect(OpenSSHPublicKey.parse("ssh-ed25519 not*base64") == .failure(.badBase64))
        #expect(OpenSSHPublicKey.parse("AAAAC3NzaC1lZDI1NTE5") == .failure(.notTypeAndBase64))
        #expect(OpenSSHPublicKey.parse("   ") == .failure(.empty))
    }

    @Test("cron expressions and durations")
    func cron() {
        for good in ["0 3 * * *", "*/15 * * * *", "30 2 1,15 * mon-fri", "0 0 * jan-mar 0", "0 12 * * 7", "5-10/2 * * * *"] {
            #expect(VeleroSyntax.scheduleProblem(good) == nil, "\(good)")
        }
        // The engine's grammar (CronExpression) words these; the manifest path is added by the validator.
        #expect(VeleroSyntax.scheduleProblem("60 * * * *") == "minute field '60' has 60 out of range (allowed: 0-59, *, a-b, */n, lists a,b)")
        #expect(VeleroSyntax.scheduleProblem("0 3 0 * *") == "day of month field '0' has 0 out of range (allowed: 1-31, *, a-b, */n, lists a,b)")
        #expect(VeleroSyntax.scheduleProblem("0 3 * * funday") == "day of week field 'funday' has 'funday', not a number (allowed: 0-7 or SUN-SAT, *, a-b, */n, lists a,b)")
        #expect(VeleroSyntax.scheduleProblem("0 5-3 * * *") == "hour field '5-3' has the range 5-3, which runs backwards (allowed: 0-23, *, a-b, */n, lists a,b)")
        #expect(VeleroSyntax.scheduleProblem("*/0 * * * *") == "minute field '*/0' has step '0'; a step is a number from 1 (allowed: 0-59, *, a-b, */n, lists a,b)")
        #expect(VeleroSyntax.scheduleProblem("@daily")?.hasPrefix("must be 5 cron fields") == true)
        #expect(VeleroSyntax.scheduleProblem("0 0 3 * * *")?.hasPrefix("must be 5 cron fields") == true, "no seconds field in a manifest")
        #expect(VeleroSyntax.scheduleProblem("0 0 30 2 *")?.hasPrefix("never fires") == true)
        for good in ["720h", "72h30m", "90m", "1h0m30s"] { #expect(VeleroSyntax.ttlProblem(good) == nil, "\(good)") }
        for bad in ["", "30d", "h", "10m5h", "0h", "1.5h"] { #expect(VeleroSyntax.ttlProblem(bad) != nil, "\(bad)") }
        // No option of the CLI leaks into a manifest's messages.
        #expect(VeleroSyntax.scheduleProblem("0 25 * * *")?.contains("--cron") == false)
    }

    @Test("IPv4 addresses and CIDRs")
    func addresses() throws {
        #expect(IPv4("192.168.0.1")?.description == "192.168.0.1")
        for bad in ["192.168.0", "192.168.0.256", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", ""] { #expect(IPv4(bad) == nil, "\(bad)") }
        let net = try #require(IPv4CIDR("10.20.0.0/22"))
        #expect(net.hosts?.rangeDescription == "10.20.0.1-10.20.3.254")
        #expect(net.isPrivate)
        #expect(IPv4CIDR.parse("10.20.1.0/22") == .failure(.hostBitsSet(suggestion: "10.20.0.0/22")))
        #expect(IPv4CIDR.parse("10.20.0.0/33") == .failure(.syntax))
        #expect(IPv4CIDR("8.8.8.0/24")?.isPrivate == false)
    }

    @Test("the plan table")
    func plans() {
        #expect(ClusterCatalog.isPlan(cpu: 2, memoryGB: 4))
        #expect(ClusterCatalog.isPlan(cpu: 32, memoryGB: 128))
        #expect(!ClusterCatalog.isPlan(cpu: 1, memoryGB: 32))
        #expect(!ClusterCatalog.isPlan(cpu: 4, memoryGB: 2))
        #expect(ClusterCatalog.planMemoryGB(cpu: 1) == [1, 2, 4, 8, 16])
        #expect(ClusterCatalog.plans.count == 27)
    }

    @Test("control-plane nodes need 2 CPUs and 2 GB")
    func masterMinimum() throws {
        let yaml = try ManifestRepo.example("demo.yaml").replacingOccurrences(of: "  replicas: 3\n  plan: {cpu: 2, memoryGB: 4}", with: "  replicas: 3\n  plan: {cpu: 1, memoryGB: 1}")
        #expect(ClusterManifest.check(yaml: yaml).problems.map(\.description) == [
            "masters.plan.cpu: must be at least 2: control-plane nodes need 2 CPUs (kubeadm), got 1",
        ])
    }
}
