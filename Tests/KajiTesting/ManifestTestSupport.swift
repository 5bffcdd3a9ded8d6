import Engine
import Foundation
import Logging
import PostgresNIO
import Testing
import Workflows

// Helpers of the manifest and apply tests (WorkflowsTests' ManifestTests and ApplyPlanTests, ProcessTests'
// ApplyProcessTests and ClusterCLIProcessTests).

/// The repository's root (for `examples/`).
package enum ManifestRepo {
    package static var root: URL { TestEnvironment.repositoryRoot }

    package static func example(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent("examples/\(name)"), encoding: .utf8)
    }

    /// Writes `text` to a fresh temporary file and returns its path.
    package static func writeTemp(_ text: String, name: String = "cluster.yaml") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `examples/demo.yaml` read into its spec.
    package static func demoSpec() throws -> ClusterSpec {
        try ClusterManifest.load(yaml: try example("demo.yaml"))
    }
}

extension TestDatabase {
    /// The number of rows in `runs`.
    package func runCount() async throws -> Int {
        for try await n in try await store.client.query("SELECT count(*)::int FROM runs", logger: store.logger).decode(Int.self) { return n }
        return 0
    }

    /// Every run as (kind, concurrency key, idempotency key, input JSON).
    package func runs() async throws -> [(kind: String, concurrencyKey: String?, idempotencyKey: String?, input: String)] {
        var result: [(String, String?, String?, String)] = []
        let rows = try await store.client.query("""
            SELECT r.kind, r.concurrency_key, r.idempotency_key, p.input::text FROM runs r JOIN run_payloads p ON p.run_id = r.id ORDER BY r.id
            """, logger: store.logger)
        for try await row in rows.decode((String, String?, String?, String).self) { result.append(row) }
        return result.map { (kind: $0.0, concurrencyKey: $0.1, idempotencyKey: $0.2, input: $0.3) }
    }
}

/// Runs the built `kaji` executable (KAJI_BIN, else .build/debug/kaji) to completion, logging errors only.
package enum ManifestCLI {
    package static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await KajiProcess.run(arguments, environment: ["KAJI_LOG_LEVEL": "error"], timeout: timeout)
    }
}

/// A bad manifest: `examples/demo.yaml` with some text replaced, and every problem line it must get.
package struct BadManifest: Sendable, CustomStringConvertible {
    package let name: String
    package let replacements: [(String, String)]
    package let expected: [String]

    package var description: String { name }

    package init(_ name: String, _ replacements: [(String, String)], _ expected: [String]) {
        self.name = name
        self.replacements = replacements
        self.expected = expected
    }

    /// The demo manifest with the replacements made (each must match exactly once).
    package func yaml() throws -> String {
        var text = try ManifestRepo.example("demo.yaml")
        for (old, new) in replacements {
            let count = text.components(separatedBy: old).count - 1
            guard count == 1 else { throw KajiTestingError("\(name): '\(old)' occurs \(count) times in demo.yaml") }
            text = text.replacingOccurrences(of: old, with: new)
        }
        return text
    }

    package static let demoKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzy11l1FpGd+ga6ufVOPUDSKHe9SGQ6ETGNxt35HJBL demo@example"

    package static let cases: [BadManifest] = [
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
