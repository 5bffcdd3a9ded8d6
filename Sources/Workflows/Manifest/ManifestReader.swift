import Foundation
import Yams

/// Turns a YAML document into a `ClusterSpec`, collecting every syntax, type, missing and unknown field
/// problem on the way (with its line) instead of stopping at the first. Fields that could not be read get a
/// placeholder and are listed in `broken`, so that validation does not report them a second time.
struct ManifestReader {
    private(set) var problems: [ManifestProblem] = []
    /// Paths whose value is a placeholder (missing or of the wrong type).
    private(set) var broken: Set<String> = []
    /// The line of every value read, by path.
    private(set) var lines: [String: Int] = [:]

    /// A mapping's fields, keyed by name, with the mapping's path.
    struct Fields {
        let path: String
        let values: [String: Node]
        let line: Int?

        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    static let topKeys = ["apiVersion", "kind", "name", "zone", "kubernetesVersion", "network", "masters", "workers", "owners", "velero", "healthCheck"]
    static let networkKeys = ["subnet", "controlPlaneVIP", "nodeAddressStart", "loadBalancerRange", "podSubnet"]
    static let poolKeys = ["replicas", "plan", "diskGB"]
    static let planKeys = ["cpu", "memoryGB"]
    static let ownersKeys = ["team", "sshKeys"]
    static let veleroKeys = ["storageLocation", "schedule", "ttl"]
    static let healthCheckKeys = ["interval"]

    mutating func read(yaml: String) -> ClusterSpec? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            problems.append(Self.syntaxProblem(error))
            return nil
        }
        guard let root, !isNull(root) else {
            problems.append(ManifestProblem(field: "manifest", reason: "is empty: expected a Cluster manifest starting with 'apiVersion: \(ClusterManifest.apiVersion)' and 'kind: \(ClusterManifest.kind)'"))
            return nil
        }
        guard let top = fields(root, path: "", known: Self.topKeys) else { return nil }

        let apiVersion = string(top, "apiVersion", example: ClusterManifest.apiVersion)
        if let apiVersion, apiVersion != ClusterManifest.apiVersion {
            add(top.path("apiVersion"), "must be \(ClusterManifest.apiVersion), got \"\(apiVersion.prefix(60))\"")
        }
        let kind = string(top, "kind", example: ClusterManifest.kind)
        if let kind, kind != ClusterManifest.kind {
            add(top.path("kind"), "must be \(ClusterManifest.kind), got \"\(kind.prefix(60))\"")
        }
        let name = string(top, "name", example: "prod-a") ?? ""
        let zone = string(top, "zone", example: "is1a") ?? ""
        let version = string(top, "kubernetesVersion", example: "\"1.30.2\"") ?? ""

        var network = ClusterSpec.Network(subnet: "", controlPlaneVIP: "", nodeAddressStart: "", loadBalancerRange: "")
        if let n = mapping(top, "network", known: Self.networkKeys, example: "a mapping with subnet, controlPlaneVIP, nodeAddressStart, loadBalancerRange") {
            network.subnet = string(n, "subnet", example: "192.168.100.0/24") ?? ""
            network.controlPlaneVIP = string(n, "controlPlaneVIP", example: "192.168.100.10") ?? ""
            network.nodeAddressStart = string(n, "nodeAddressStart", example: "192.168.100.11") ?? ""
            network.loadBalancerRange = string(n, "loadBalancerRange", example: "192.168.100.200-192.168.100.220") ?? ""
            network.podSubnet = string(n, "podSubnet", example: ClusterCatalog.defaultPodSubnet, required: false)
        }
        let masters = pool(top, "masters", replicasExample: "3")
        let workers = pool(top, "workers", replicasExample: "2")

        var owners = ClusterSpec.Owners(team: "", sshKeys: [])
        if let o = mapping(top, "owners", known: Self.ownersKeys, example: "a mapping with team and sshKeys") {
            owners.team = string(o, "team", example: "payments") ?? ""
            owners.sshKeys = stringList(o, "sshKeys", example: "a list of OpenSSH public keys, e.g. - ssh-ed25519 AAAA… alice@laptop") ?? []
        }

        var velero: ClusterSpec.Velero?
        if let v = mapping(top, "velero", known: Self.veleroKeys, example: "a mapping with storageLocation, schedule, ttl", required: false) {
            velero = ClusterSpec.Velero(
                storageLocation: string(v, "storageLocation", example: "default") ?? "",
                schedule: string(v, "schedule", example: "\"0 3 * * *\"", required: false),
                ttl: string(v, "ttl", example: "720h", required: false))
        }
        var healthCheck: ClusterSpec.HealthCheck?
        if let h = mapping(top, "healthCheck", known: Self.healthCheckKeys, example: "a mapping like {interval: 30s}", required: false) {
            healthCheck = ClusterSpec.HealthCheck(interval: string(h, "interval", example: "30s", required: false))
        }
        return ClusterSpec(name: name, zone: zone, kubernetesVersion: version, network: network, masters: masters,
                           workers: workers, owners: owners, velero: velero, healthCheck: healthCheck)
    }

    private mutating func pool(_ top: Fields, _ key: String, replicasExample: String) -> ClusterSpec.NodePool {
        var pool = ClusterSpec.NodePool(replicas: 0, plan: .init(cpu: 0, memoryGB: 0), diskGB: 0)
        guard let p = mapping(top, key, known: Self.poolKeys, example: "a mapping with replicas, plan and diskGB") else { return pool }
        pool.replicas = int(p, "replicas", example: replicasExample) ?? 0
        if let plan = mapping(p, "plan", known: Self.planKeys, example: "a mapping like {cpu: 2, memoryGB: 4}") {
            pool.plan.cpu = int(plan, "cpu", example: "2") ?? 0
            pool.plan.memoryGB = int(plan, "memoryGB", example: "4") ?? 0
        }
        pool.diskGB = int(p, "diskGB", example: "40") ?? 0
        return pool
    }

    // MARK: - Typed reads

    private mutating func add(_ field: String, _ reason: String, line: Int? = nil) {
        problems.append(ManifestProblem(field: field, reason: reason, line: line))
    }

    private func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s): return "\"\(s.string.prefix(60))\""
        case .alias: return "an alias"
        }
    }

    private static func at(_ node: Node) -> String { node.mark.map { " (line \($0.line))" } ?? "" }

    /// The value of a key, or nil after recording it as missing (when required) or null.
    private mutating func value(_ f: Fields, _ key: String, example: String, required: Bool) -> Node? {
        let path = f.path(key)
        guard let node = f.values[key], !isNull(node) else {
            if required {
                // A missing field is placed at its mapping, so that problems sort in document order.
                let line = f.values[key]?.mark?.line ?? f.line
                add(path, f.values[key] == nil ? "missing: add it, e.g. \(key): \(example)" : "has no value: give it one, e.g. \(key): \(example)", line: line)
                broken.insert(path)
            }
            return nil
        }
        if let line = node.mark?.line { lines[path] = line }
        return node
    }

    private mutating func string(_ f: Fields, _ key: String, example: String, required: Bool = true) -> String? {
        guard let node = value(f, key, example: example, required: required) else { return nil }
        guard case .scalar(let scalar) = node else {
            add(f.path(key), "must be a single value like \(example), got \(Self.describe(node))\(Self.at(node))", line: node.mark?.line)
            broken.insert(f.path(key))
            return nil
        }
        return scalar.string
    }

    private mutating func int(_ f: Fields, _ key: String, example: String) -> Int? {
        guard let node = value(f, key, example: example, required: true) else { return nil }
        guard case .scalar(let scalar) = node, let number = Int(scalar.string) else {
            add(f.path(key), "must be a whole number like \(example), got \(Self.describe(node))\(Self.at(node))", line: node.mark?.line)
            broken.insert(f.path(key))
            return nil
        }
        return number
    }

    private mutating func stringList(_ f: Fields, _ key: String, example: String) -> [String]? {
        guard let node = value(f, key, example: example, required: true) else { return nil }
        guard case .sequence(let sequence) = node else {
            add(f.path(key), "must be \(example), got \(Self.describe(node))\(Self.at(node))", line: node.mark?.line)
            broken.insert(f.path(key))
            return nil
        }
        var result: [String] = []
        for (index, item) in sequence.enumerated() {
            let path = "\(f.path(key))[\(index)]"
            if let line = item.mark?.line { lines[path] = line }
            guard case .scalar(let scalar) = item, !isNull(item) else {
                add(path, "must be one OpenSSH public key line, got \(isNull(item) ? "nothing" : Self.describe(item))\(Self.at(item))", line: item.mark?.line)
                broken.insert(path)
                result.append("")
                continue
            }
            result.append(scalar.string)
        }
        return result
    }

    private mutating func mapping(_ f: Fields, _ key: String, known: [String], example: String, required: Bool = true) -> Fields? {
        guard let node = value(f, key, example: example, required: required) else { return nil }
        return fields(node, path: f.path(key), known: known)
    }

    /// A mapping's fields; records non-string keys, duplicate keys and unknown keys (with a suggestion).
    private mutating func fields(_ node: Node, path: String, known: [String]) -> Fields? {
        let name = path.isEmpty ? "manifest" : path
        guard case .mapping(let mapping) = node else {
            add(name, "must be a mapping of fields (\(known.joined(separator: ", "))), got \(Self.describe(node))\(Self.at(node))", line: node.mark?.line)
            broken.insert(path.isEmpty ? "manifest" : path)
            return nil
        }
        var values: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                add(name, "has a key that is not a plain name\(Self.at(keyNode))", line: keyNode.mark?.line)
                continue
            }
            let key = keyScalar.string
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            if let first = values[key] {
                let firstLine = first.mark.map { " (first on line \($0.line))" } ?? ""
                add(fieldPath, "is given twice\(Self.at(keyNode))\(firstLine): keep one", line: keyNode.mark?.line)
                continue
            }
            guard known.contains(key) else {
                var reason = "unknown field\(Self.at(keyNode))"
                if let suggestion = Self.suggestion(for: key, among: known) { reason += ": did you mean '\(suggestion)'?" }
                reason += " Fields here: \(known.joined(separator: ", "))"
                add(fieldPath, reason, line: keyNode.mark?.line)
                continue
            }
            values[key] = valueNode
        }
        return Fields(path: path, values: values, line: node.mark?.line)
    }

    /// The known key closest to a misspelt one (case-insensitive equal, or at most 2 edits away).
    static func suggestion(for key: String, among known: [String]) -> String? {
        if let same = known.first(where: { $0.lowercased() == key.lowercased() }) { return same }
        let scored = known.map { ($0, editDistance(Array($0.lowercased()), Array(key.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
        return best.0
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A YAML syntax error as a problem naming the line and column.
    static func syntaxProblem(_ error: any Error) -> ManifestProblem {
        func problem(_ text: String, _ mark: Mark, _ context: YamlError.Context?) -> ManifestProblem {
            var reason = "YAML syntax error on line \(mark.line), column \(mark.column): \(text)"
            if let context { reason += " (\(context.text) on line \(context.mark.line))" }
            return ManifestProblem(field: "manifest", reason: reason, line: mark.line)
        }
        switch error as? YamlError {
        case .scanner(let context, let text, let mark, _)?: return problem(text, mark, context)
        case .parser(let context, let text, let mark, _)?: return problem(text, mark, context)
        case .composer(let context, let text, let mark, _)?: return problem(text, mark, context)
        case .reader(let text, _, _, _)?: return ManifestProblem(field: "manifest", reason: "cannot be read as YAML text: \(text)")
        default: return ManifestProblem(field: "manifest", reason: "is not valid YAML: \(error)")
        }
    }
}
