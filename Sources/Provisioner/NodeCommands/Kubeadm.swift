import Foundation

/// Command lines for kubeadm on a node, and readers of what it prints.
public enum Kubeadm {
    /// `kubeadm init` for the first control-plane node behind a VIP.
    /// - Parameters:
    ///   - controlPlaneEndpoint: `VIP:6443` (a port is added when missing).
    ///   - advertiseAddress: the node's private-switch address; default nil (kubeadm picks).
    ///   - podNetworkCIDR: default `10.244.0.0/16`.
    ///   - uploadCerts: default true (other masters then join with the printed certificate key).
    public static func initCommand(
        controlPlaneEndpoint: String, advertiseAddress: String? = nil, podNetworkCIDR: String = "10.244.0.0/16",
        uploadCerts: Bool = true
    ) -> String {
        var words = ["kubeadm", "init", "--control-plane-endpoint", withPort(controlPlaneEndpoint)]
        if uploadCerts { words.append("--upload-certs") }
        if let advertiseAddress { words += ["--apiserver-advertise-address", advertiseAddress] }
        words += ["--pod-network-cidr", podNetworkCIDR]
        return ShellQuote.join(words)
    }

    /// `kubeadm token create --print-join-command`, with `--ttl` when given (e.g. `1h`; kubeadm's default is
    /// 24h). The token comes back on stdout, never as an argument.
    public static func printJoinCommand(ttl: String? = nil) -> String {
        var words = ["kubeadm", "token", "create", "--print-join-command"]
        if let ttl { words += ["--ttl", ttl] }
        return ShellQuote.join(words)
    }

    /// `kubeadm token delete TOKEN_ID`: revokes a bootstrap token by its public id (the part before the dot),
    /// so that the secret part never appears in a process argument.
    public static func tokenDeleteCommand(token: String) -> String {
        ShellQuote.join(["kubeadm", "token", "delete", tokenID(token)])
    }

    /// The public id of a bootstrap token `ID.SECRET`.
    public static func tokenID(_ token: String) -> String {
        String(token.split(separator: ".", maxSplits: 1).first ?? "")
    }

    /// `kubeadm reset phase remove-etcd-member`, run on a control-plane node that leaves: removes its own
    /// etcd member through the cluster's admin kubeconfig.
    public static let removeEtcdMemberCommand = "kubeadm reset phase remove-etcd-member --kubeconfig /etc/kubernetes/admin.conf"

    /// A shell script that reads a `JoinConfiguration` (see `joinConfiguration`) from stdin into a new file
    /// only root can read, runs `kubeadm join --config FILE`, and removes the file whatever the outcome, so
    /// that the bootstrap token and certificate key never appear in a process argument. Exits with
    /// kubeadm's status.
    public static let joinFromStdinScript = """
        umask 077; f=$(mktemp /tmp/kaji-join.XXXXXXXX) || exit 1; trap 'rm -f "$f"' EXIT INT TERM; \
        cat > "$f" && kubeadm join --config "$f"; rc=$?; rm -f "$f"; exit $rc
        """

    /// The `JoinConfiguration` (kubeadm.k8s.io/v1beta4, written as JSON, which kubeadm reads as YAML) for
    /// `kubeadm join --config`: discovery by bootstrap token and CA hash; for a control-plane node also the
    /// certificate key and the address its API server advertises. It holds secrets: send it on stdin only.
    public static func joinConfiguration(_ join: JoinCommand, asControlPlane: Bool, advertiseAddress: String? = nil) -> String {
        var root: [String: Any] = [
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "JoinConfiguration",
            "discovery": ["bootstrapToken": ["apiServerEndpoint": join.endpoint, "token": join.token, "caCertHashes": [join.caCertHash]]],
        ]
        if asControlPlane {
            var controlPlane: [String: Any] = [:]
            if let key = join.certificateKey { controlPlane["certificateKey"] = key }
            if let advertiseAddress { controlPlane["localAPIEndpoint"] = ["advertiseAddress": advertiseAddress, "bindPort": 6443] }
            root["controlPlane"] = controlPlane
        }
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `kubeadm init phase upload-certs --upload-certs`: a fresh certificate key (valid 2 h).
    public static let uploadCertsCommand = "kubeadm init phase upload-certs --upload-certs"

    /// The join line as a command (`kubeadm join …`), for a worker or a control-plane node. It carries the
    /// token (and key) as arguments, which `ps` shows on the node: Kaji joins with `joinFromStdinScript`.
    public static func joinCommand(_ join: JoinCommand, asControlPlane: Bool) -> String {
        var words = ["kubeadm", "join", join.endpoint, "--token", join.token, "--discovery-token-ca-cert-hash", join.caCertHash]
        if asControlPlane, let key = join.certificateKey {
            words += ["--control-plane", "--certificate-key", key]
        }
        return ShellQuote.join(words)
    }

    static func withPort(_ endpoint: String) -> String {
        endpoint.contains(":") ? endpoint : endpoint + ":6443"
    }

    /// Reads the join material from `kubeadm init` or `kubeadm token create --print-join-command` output
    /// (line continuations, tabs and warnings around it are tolerated). Nil when no join line is found.
    public static func parseJoin(_ output: String) -> JoinCommand? {
        let flattened = output.replacingOccurrences(of: "\\\n", with: " ").replacingOccurrences(of: "\t", with: " ")
        var found: JoinCommand?
        for line in flattened.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ").map(String.init)
            guard let start = words.firstIndex(of: "kubeadm"), start + 2 < words.count, words[start + 1] == "join" else {
                continue
            }
            let rest = Array(words[(start + 2)...])
            func value(_ flag: String) -> String? {
                guard let index = rest.firstIndex(of: flag), index + 1 < rest.count else { return nil }
                return rest[index + 1]
            }
            guard let token = value("--token"), let hash = value("--discovery-token-ca-cert-hash") else { continue }
            let key = value("--certificate-key")
            if var current = found {
                current.certificateKey = current.certificateKey ?? key
                found = current
            } else {
                found = JoinCommand(endpoint: rest[0], token: token, caCertHash: hash, certificateKey: key)
            }
        }
        return found
    }

    /// Reads the 64-hex-digit key after `Using certificate key:` (upload-certs and init output).
    public static func parseCertificateKey(_ output: String) -> String? {
        let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let marker = lines.firstIndex(where: { $0.hasSuffix("Using certificate key:") }),
            marker + 1 < lines.count
        else { return nil }
        let key = lines[marker + 1]
        return key.count == 64 && key.allSatisfy(\.isHexDigit) ? key : nil
    }
}

/// What a node needs to join: endpoint, bootstrap token, CA hash, and for masters the certificate key.
///
/// The token and certificate key are secrets: `description` hides them.
public struct JoinCommand: Sendable, Equatable, Codable, CustomStringConvertible {
    public var endpoint: String
    public var token: String
    /// `sha256:…`.
    public var caCertHash: String
    public var certificateKey: String?

    public init(endpoint: String, token: String, caCertHash: String, certificateKey: String? = nil) {
        self.endpoint = endpoint
        self.token = token
        self.caCertHash = caCertHash
        self.certificateKey = certificateKey
    }

    public var description: String {
        "JoinCommand(endpoint: \(endpoint), token: <redacted>, caCertHash: \(caCertHash), certificateKey: \(certificateKey == nil ? "none" : "<redacted>"))"
    }
}
