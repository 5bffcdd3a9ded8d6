import Foundation

/// Reading cluster manifests: YAML text in, a validated `ClusterSpec` out, or every problem at once.
///
/// The format (`kaji/v1`): a YAML mapping with the envelope `apiVersion: kaji/v1` and `kind: Cluster`, and
/// the `ClusterSpec` fields at the top level beside them (no `metadata`/`spec` nesting, so the field paths
/// in messages are the YAML paths: `masters.replicas`, `network.controlPlaneVIP`, `owners.sshKeys[0]`):
///
/// ```yaml
/// apiVersion: kaji/v1
/// kind: Cluster
/// name: prod-a                     # DNS-safe, 1-40 of a-z 0-9 -
/// zone: is1a                       # is1a is1b is1c tk1a tk1b tk1v
/// kubernetesVersion: "1.30.2"      # quoted: YAML reads 1.30 as a number
/// network:
///   subnet: 192.168.100.0/24       # the private switch, /16-/28, RFC 1918
///   controlPlaneVIP: 192.168.100.10
///   nodeAddressStart: 192.168.100.11   # masters, then workers, consecutive
///   loadBalancerRange: 192.168.100.200-192.168.100.220
///   podSubnet: 10.244.0.0/16       # optional (default 10.244.0.0/16)
/// masters: {replicas: 3, plan: {cpu: 2, memoryGB: 4}, diskGB: 40}
/// workers: {replicas: 2, plan: {cpu: 4, memoryGB: 8}, diskGB: 100}
/// owners:
///   team: payments
///   sshKeys: ["ssh-ed25519 AAAA… alice@laptop"]
/// velero:                          # optional
///   storageLocation: default
///   schedule: "0 3 * * *"          # optional: nightly backup (5-field cron, UTC)
///   ttl: 720h                      # optional: Go duration
/// healthCheck:                     # optional
///   interval: 30s                  # GET https://VIP:6443/readyz?verbose=true this often (1s-1h, default 30s)
/// ```
///
/// Unknown fields are problems (a misspelt optional field would otherwise be silently ignored).
public enum ClusterManifest {
    /// The `apiVersion` a manifest must carry.
    public static let apiVersion = "kaji/v1"
    /// The `kind` a manifest must carry.
    public static let kind = "Cluster"

    /// What checking a manifest found: the spec when it could be read, and every problem (empty: valid).
    public struct Check: Sendable {
        /// The spec read from the YAML; nil when the text is not YAML or not a mapping. When `problems` is not
        /// empty, fields that could not be read hold placeholders: do not use it for anything but messages.
        public var spec: ClusterSpec?
        /// Every problem, in document order (by line).
        public var problems: [ManifestProblem]

        public var isValid: Bool { spec != nil && problems.isEmpty }
    }

    /// Reads and validates YAML text, collecting every problem.
    public static func check(yaml: String) -> Check {
        var reader = ManifestReader()
        guard let spec = reader.read(yaml: yaml) else { return Check(spec: nil, problems: reader.problems) }
        var validator = ClusterSpecValidator(spec: spec, broken: reader.broken)
        let semantic = validator.run().map { problem in
            var problem = problem
            problem.line = problem.line ?? reader.lines[problem.field]
            return problem
        }
        // Document order: by line (the sort is stable; problems without a line stay last, in field order).
        let all = (reader.problems + semantic).enumerated().sorted { a, b in
            (a.element.line ?? Int.max, a.offset) < (b.element.line ?? Int.max, b.offset)
        }.map(\.element)
        return Check(spec: spec, problems: all)
    }

    /// Reads and validates YAML text.
    /// - Throws: `ManifestError` listing every problem.
    public static func load(yaml: String) throws -> ClusterSpec {
        let result = check(yaml: yaml)
        guard let spec = result.spec, result.problems.isEmpty else { throw ManifestError(problems: result.problems) }
        return spec
    }

    /// Reads and validates a manifest file.
    /// - Throws: the file system's error when the file cannot be read; `ManifestError` listing every problem.
    public static func load(file path: String) throws -> ClusterSpec {
        try load(yaml: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// Checks a spec that did not come from YAML (e.g. a workflow's input): the same rules as `load`.
    public static func validate(_ spec: ClusterSpec) -> [ManifestProblem] {
        spec.problems()
    }
}
