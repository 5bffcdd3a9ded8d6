/// Command lines for kubectl on a control-plane node, and readers of its output.
public enum Kubectl {
    public static let getNodesCommand = "kubectl get nodes"
    /// `kubectl get --raw='/readyz?verbose'`.
    public static let readyzCommand = "kubectl get --raw='/readyz?verbose'"

    /// `kubectl drain NODE`: cordons the node and evicts its pods (PodDisruptionBudgets respected), DaemonSet
    /// pods and emptyDir data notwithstanding.
    public static func drainCommand(node: String, timeout: String = "120s") -> String {
        ShellQuote.join(["kubectl", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout", timeout])
    }

    /// `kubectl delete node NODE --ignore-not-found`.
    public static func deleteNodeCommand(node: String) -> String {
        ShellQuote.join(["kubectl", "delete", "node", node, "--ignore-not-found"])
    }

    /// `kubectl apply -f URL_OR_PATH`.
    public static func applyCommand(_ manifest: String) -> String {
        ShellQuote.join(["kubectl", "apply", "-f", manifest])
    }

    /// Reads the `kubectl get nodes` table (NAME STATUS ROLES AGE VERSION).
    public static func parseNodes(_ output: String) -> [NodeStatus] {
        var lines = output.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first, header.hasPrefix("NAME") else { return [] }
        lines.removeFirst()
        return lines.compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard columns.count >= 5 else { return nil }
            return NodeStatus(
                name: columns[0], status: columns[1],
                roles: columns[2] == "<none>" ? [] : columns[2].split(separator: ",").map(String.init),
                version: columns[4])
        }
    }
}

/// One row of `kubectl get nodes`.
public struct NodeStatus: Sendable, Equatable, Codable {
    public var name: String
    /// e.g. `Ready`, `NotReady`, `Ready,SchedulingDisabled`.
    public var status: String
    public var roles: [String]
    public var version: String

    public var isReady: Bool { status.split(separator: ",").first == "Ready" }
    public var isControlPlane: Bool { roles.contains("control-plane") }
}

/// The `[+]`/`[-]` lines of `/readyz?verbose` (or `/livez`, `/healthz`).
public struct ReadyzReport: Sendable, Equatable, Codable {
    public struct Check: Sendable, Equatable, Codable {
        public var name: String
        public var ok: Bool
        /// e.g. `reason withheld`, `excluded: ok`.
        public var detail: String
    }

    public var checks: [Check]
    /// The last line says `… check passed`.
    public var passed: Bool

    public init(checks: [Check], passed: Bool) {
        self.checks = checks
        self.passed = passed
    }

    public static func parse(_ output: String) -> ReadyzReport {
        var checks: [Check] = []
        var passed = false
        for raw in output.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[+]") || line.hasPrefix("[-]") {
                let body = line.dropFirst(3)
                let parts = body.split(separator: " ", maxSplits: 1).map(String.init)
                checks.append(Check(name: parts[0], ok: line.hasPrefix("[+]"), detail: parts.count > 1 ? parts[1] : ""))
            } else if line.hasSuffix("check passed") {
                passed = true
            } else if line.hasSuffix("check failed") {
                passed = false
            }
        }
        return ReadyzReport(checks: checks, passed: passed && checks.allSatisfy(\.ok))
    }

    public var failing: [String] { checks.filter { !$0.ok }.map(\.name) }
}
