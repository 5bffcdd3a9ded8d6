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

/// The `[+]`/`[-]` lines of `/readyz?verbose` (or `/livez`, `/healthz`) and the verdict line after them.
///
/// kube-apiserver's format (its `healthz` package): one line per check, `[+]NAME ok`, `[-]NAME failed: reason
/// withheld` or `[+]NAME excluded: ok` (for `?exclude=NAME`), then `readyz check passed` (HTTP 200) or
/// `readyz check failed` (HTTP 500; the list is printed on failure even without `verbose`); the word before
/// `check` is the endpoint's name (`livez`, `healthz`). Other lines (`warn: …`) are skipped.
public struct ReadyzReport: Sendable, Equatable, Codable {
    public struct Check: Sendable, Equatable, Codable {
        public var name: String
        public var ok: Bool
        /// What follows the name: `ok`, `failed: reason withheld`, `excluded: ok`.
        public var detail: String

        public init(name: String, ok: Bool, detail: String) {
            self.name = name
            self.ok = ok
            self.detail = detail
        }
    }

    /// The verdict line: `readyz check passed` is `Verdict(endpoint: "readyz", passed: true)`.
    public struct Verdict: Sendable, Equatable, Codable {
        public var endpoint: String
        public var passed: Bool

        public init(endpoint: String, passed: Bool) {
            self.endpoint = endpoint
            self.passed = passed
        }
    }

    public var checks: [Check]
    /// The last line says `… check passed` and no check is `[-]`.
    public var passed: Bool
    /// The verdict line, nil when the output has none (e.g. a plain `ok`, or not a health answer at all).
    public var verdict: Verdict?

    public init(checks: [Check], passed: Bool, verdict: Verdict? = nil) {
        self.checks = checks
        self.passed = passed
        self.verdict = verdict
    }

    public static func parse(_ output: String) -> ReadyzReport {
        var checks: [Check] = []
        var verdict: Verdict?
        for raw in output.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[+]") || line.hasPrefix("[-]") {
                let body = line.dropFirst(3)
                let parts = body.split(separator: " ", maxSplits: 1).map(String.init)
                guard let name = parts.first else { continue }
                checks.append(Check(name: name, ok: line.hasPrefix("[+]"), detail: parts.count > 1 ? parts[1] : ""))
            } else if line.hasSuffix(" check passed") || line.hasSuffix(" check failed") {
                let words = line.split(separator: " ")
                guard words.count == 3 else { continue }
                verdict = Verdict(endpoint: String(words[0]), passed: words[2] == "passed")
            }
        }
        return ReadyzReport(checks: checks, passed: (verdict?.passed ?? false) && checks.allSatisfy(\.ok), verdict: verdict)
    }

    public var failing: [String] { checks.filter { !$0.ok }.map(\.name) }
}
