import Engine
import Foundation

/// What the cluster workflows need beyond ``ClusterServices``: how long to wait, how to reach nodes, what
/// to install on them. Kaji's own SSH public key comes from `ClusterServices.ssh` (its identity).
public struct ClusterWorkflowSettings: Sendable {
    /// Interval of the durable polls (disk copied, server up, SSH reachable, cluster ready); default 5 s,
    /// as the Go tools poll.
    public var pollInterval: Duration
    /// Longest wait for a disk copy; default 20 min.
    public var diskTimeout: Duration
    /// Longest wait for a server to be `up` after power-on; default 20 min.
    public var bootTimeout: Duration
    /// Longest wait until SSH answers on a booted node; default 10 min.
    public var sshTimeout: Duration
    /// Longest wait until `/readyz` passes and every node is Ready; default 15 min.
    public var readyTimeout: Duration
    /// Longest wait for a server to be `down` before it is deleted; default 10 min.
    public var shutdownTimeout: Duration
    /// How long an approval may take; default nil (no end).
    public var approvalTimeout: Duration?
    /// Retries of steps that call the cloud API (each call also retries inside the client); default 6
    /// attempts, 1 s doubling to 30 s.
    public var cloudRetry: RetryPolicy
    /// Retries of steps that run commands on nodes; default 5 attempts, 2 s doubling to 60 s.
    public var nodeRetry: RetryPolicy
    /// SSH user on real nodes; default `ubuntu` (SAKURA's Ubuntu archives; commands then run with
    /// `sudo -n`). Simulated nodes are reached as root whatever this says.
    public var sshUser: String
    /// SSH port on real nodes; default 22.
    public var sshPort: Int
    /// Deadline of one long node command (`kubeadm init`, `kubeadm join`); default 10 min.
    public var nodeCommandDeadline: Duration
    /// The Ubuntu archive version (`24.04` → tag `ubuntu-24.04-latest`); default nil: the current stable one.
    public var ubuntuVersion: String?
    /// kube-vip's image; default `ghcr.io/kube-vip/kube-vip:v0.8.9`.
    public var kubeVIPImage: String
    /// The NIC on the private switch that holds the VIP (ARP); default `eth0` (NIC 0 is the private switch, NIC 1 the shared segment).
    public var kubeVIPInterface: String
    /// Where static Pod manifests live on a master; default `/etc/kubernetes/manifests`.
    public var manifestDirectory: String
    /// The CNI manifest applied once the nodes joined; default flannel's release manifest (pod CIDR
    /// 10.244.0.0/16, the default `network.podSubnet`).
    public var cniManifest: String
    /// The file owners' keys are added to on each node; default `~/.ssh/authorized_keys` of the SSH user.
    public var ownerKeysFile: String

    public init(
        pollInterval: Duration = .seconds(5), diskTimeout: Duration = .seconds(1200), bootTimeout: Duration = .seconds(1200),
        sshTimeout: Duration = .seconds(600), readyTimeout: Duration = .seconds(900), shutdownTimeout: Duration = .seconds(600),
        approvalTimeout: Duration? = nil,
        cloudRetry: RetryPolicy = RetryPolicy(maxAttempts: 6, initialDelay: .seconds(1), maxDelay: .seconds(30)),
        nodeRetry: RetryPolicy = RetryPolicy(maxAttempts: 5, initialDelay: .seconds(2), maxDelay: .seconds(60)),
        sshUser: String = "ubuntu", sshPort: Int = 22, nodeCommandDeadline: Duration = .seconds(600),
        ubuntuVersion: String? = nil, kubeVIPImage: String = "ghcr.io/kube-vip/kube-vip:v0.8.9",
        kubeVIPInterface: String = "eth0", manifestDirectory: String = "/etc/kubernetes/manifests",
        cniManifest: String = "https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml",
        ownerKeysFile: String = "~/.ssh/authorized_keys"
    ) {
        self.pollInterval = pollInterval
        self.diskTimeout = diskTimeout
        self.bootTimeout = bootTimeout
        self.sshTimeout = sshTimeout
        self.readyTimeout = readyTimeout
        self.shutdownTimeout = shutdownTimeout
        self.approvalTimeout = approvalTimeout
        self.cloudRetry = cloudRetry
        self.nodeRetry = nodeRetry
        self.sshUser = sshUser
        self.sshPort = sshPort
        self.nodeCommandDeadline = nodeCommandDeadline
        self.ubuntuVersion = ubuntuVersion
        self.kubeVIPImage = kubeVIPImage
        self.kubeVIPInterface = kubeVIPInterface
        self.manifestDirectory = manifestDirectory
        self.cniManifest = cniManifest
        self.ownerKeysFile = ownerKeysFile
    }
}
