import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

/// A bad manifest: `examples/demo.yaml` with some text replaced, and every problem line it must get.
struct BadManifest: Sendable, CustomStringConvertible {
    let name: String
    let replacements: [(String, String)]
    let expected: [String]

    var description: String { name }

    init(_ name: String, _ replacements: [(String, String)], _ expected: [String]) {
        self.name = name
        self.replacements = replacements
        self.expected = expected
    }

    /// The demo manifest with the replacements made (each must match exactly once).
    func yaml() throws -> String {
        var text = try ManifestRepo.example("demo.yaml")
        for (old, new) in replacements {
            let count = text.components(separatedBy: old).count - 1
            guard count == 1 else { throw KajiTestingError("\(name): '\(old)' occurs \(count) times in demo.yaml") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return text
    }

    static let demoKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzy11l1FpGd+ga6ufVOPUDSKHe9SGQ6ETGNxt35HJBL demo@example"

    static let cases: [BadManifest] = [
        BadManifest("even masters", [("  replicas: 3", "  replicas: 2")],
                    ["masters.replicas: must be odd (1, 3, 5 or 7), got 2"]),
        BadManifest("name not DNS-safe", [("name: demo", "name: Demo_1")],
                    [#"name: must be DNS-safe (1-40 of a-z, 0-9 and '-', starting with a letter and not ending with '-'), got "Demo_1""#]),
        BadManifest("VIP outside the subnet", [("controlPlaneVIP: 192.168.100.10", "controlPlaneVIP: 192.168.200.10")],
                    ["network.controlPlaneVIP: must be inside network.subnet 192.168.100.0/24 (192.168.100.1-192.168.100.254), got 192.168.200.10"]),
        BadManifest("VIP on a node's address", [("controlPlaneVIP: 192.168.100.10", "controlPlaneVIP: 192.168.100.12")],
                    ["network.controlPlaneVIP: 192.168.100.12 is one of the nodes' addresses 192.168.100.11-192.168.100.15 (5 nodes, masters then workers, from network.nodeAddressStart): pick an address outside 192.168.100.11-192.168.100.15"]),
        BadManifest("LoadBalancer range overlapping the nodes", [("192.168.100.200-192.168.100.220", "192.168.100.14-192.168.100.30")],
                    ["network.loadBalancerRange: 192.168.100.14-192.168.100.30 overlaps the nodes' addresses 192.168.100.11-192.168.100.15 (5 nodes, masters then workers, from network.nodeAddressStart): move it past 192.168.100.15"]),
        BadManifest("nodes running past the subnet", [("nodeAddressStart: 192.168.100.11", "nodeAddressStart: 192.168.100.252")],
                    ["network.nodeAddressStart: the 5 nodes (masters then workers) need 5 consecutive addresses from 192.168.100.252, which run past the subnet's last host 192.168.100.254: start at 192.168.100.250 or lower"]),
        BadManifest("subnet with host bits", [("subnet: 192.168.100.0/24", "subnet: 192.168.100.1/24")],
                    [#"network.subnet: has host bits set: did you mean 192.168.100.0/24? got "192.168.100.1/24""#]),
        BadManifest("unknown plan CPU", [("  plan: {cpu: 2, memoryGB: 4}\n  diskGB: 20\nowners", "  plan: {cpu: 3, memoryGB: 4}\n  diskGB: 20\nowners")],
                    ["workers.plan.cpu: must be 1, 2, 4, 8, 16 or 32 (the CPU cores of a plan), got 3"]),
        BadManifest("unknown plan memory", [("  plan: {cpu: 2, memoryGB: 4}\n  diskGB: 20\nowners", "  plan: {cpu: 2, memoryGB: 64}\n  diskGB: 20\nowners")],
                    ["workers.plan.memoryGB: no plan has 2 CPU with 64 GB: 2 CPU comes with 2, 4, 8, 16 or 32 GB"]),
        BadManifest("bad disk size", [("  diskGB: 20\nworkers", "  diskGB: 30\nworkers")],
                    ["masters.diskGB: must be a disk size SAKURA Cloud offers: 20, 40, 60, 80, 100, 250, 500, 750, 1024, 2048 or 4096 (GB), got 30"]),
        BadManifest("truncated ssh key", [(demoKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzy11l1 demo@example")],
                    ["owners.sshKeys[0]: the key data is not a valid ssh-ed25519 key (truncated or mixed up): copy the whole .pub line"]),
        BadManifest("private key instead of the public one", [("    - " + demoKey, "    - \"-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\"")],
                    ["owners.sshKeys[0]: is a private key: never put a private key in a manifest; use the public key (the .pub file's line)"]),
        BadManifest("unknown key type", [(demoKey, "ssh-dss AAAAB3NzaC1kc3MAAACBAP demo@example")],
                    ["owners.sshKeys[0]: key type 'ssh-dss' is not accepted: use one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com"]),
        BadManifest("no owner keys", [("  sshKeys:\n", "  sshKeys: []\n"), ("    - " + demoKey + "\n", "")],
                    ["owners.sshKeys: must list at least one OpenSSH public key (the owners log in to the nodes with it), e.g. - ssh-ed25519 AAAA… alice@laptop"]),
        BadManifest("cron with 4 fields", [(#"schedule: "0 3 * * *""#, #"schedule: "0 3 * *""#)],
                    [#"velero.schedule: must be 5 cron fields (minute hour day-of-month month day-of-week) like "0 3 * * *", got 4 fields"#]),
        BadManifest("cron hour out of range", [(#"schedule: "0 3 * * *""#, #"schedule: "0 25 * * *""#)],
                    ["velero.schedule: hour field '25' has 25 out of range (allowed: 0-23, *, a-b, */n, lists a,b)"]),
        BadManifest("ttl in days", [("ttl: 72h", "ttl: 3d")],
                    [#"velero.ttl: must be a duration of hours, minutes and seconds like 720h or 72h30m, got "3d""#]),
        BadManifest("unknown zone", [("zone: is1a", "zone: is2z")],
                    [#"zone: must be one of is1a, is1b, is1c, tk1a, tk1b or tk1v, got "is2z""#]),
        BadManifest("unquoted version read as a number", [(#"kubernetesVersion: "1.30.2""#, "kubernetesVersion: 1.30")],
                    [#"kubernetesVersion: must be a Kubernetes release MAJOR.MINOR.PATCH like 1.30.2 (quote it in YAML), got "1.30""#]),
        BadManifest("YAML syntax error", [("  subnet: 192.168.100.0/24", "  subnet: [192.168.100.0/24")],
                    ["manifest: YAML syntax error on line 10, column 18: did not find expected ',' or ']' (while parsing a flow sequence on line 9)"]),
        BadManifest("wrong type", [("  replicas: 3", "  replicas: three")],
                    [#"masters.replicas: must be a whole number like 3, got "three" (line 14)"#]),
        BadManifest("missing field", [("zone: is1a\n", "")],
                    ["zone: missing: add it, e.g. zone: is1a"]),
        BadManifest("misspelt field", [("  replicas: 2", "  replica: 2")],
                    ["workers.replica: unknown field (line 18): did you mean 'replicas'? Fields here: replicas, plan, diskGB",
                     "workers.replicas: missing: add it, e.g. replicas: 2"]),
        BadManifest("wrong apiVersion", [("apiVersion: kaji/v1", "apiVersion: v1")],
                    [#"apiVersion: must be kaji/v1, got "v1""#]),
        BadManifest("several problems at once", [("  replicas: 3", "  replicas: 4"), ("zone: is1a", "zone: us-east-1"), (#"schedule: "0 3 * * *""#, #"schedule: "every night""#)],
                    [#"zone: must be one of is1a, is1b, is1c, tk1a, tk1b or tk1v, got "us-east-1""#,
                     "masters.replicas: must be odd (1, 3, 5 or 7), got 4",
                     #"velero.schedule: must be 5 cron fields (minute hour day-of-month month day-of-week) like "0 3 * * *", got 2 fields"#]),
    ]
}

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
