import Engine
import Foundation
import Logging
import PostgresNIO
import Provisioner

/// The cluster services and settings a worker process builds from its environment.
public struct ClusterWorkerEnvironment: Sendable {
    public var services: ClusterServices
    public var settings: ClusterWorkflowSettings

    /// Reads the environment; nil when `SAKURACLOUD_ACCESS_TOKEN` is unset (the worker then runs without
    /// the cluster workflows).
    ///
    /// - Cloud: `SAKURACLOUD_ACCESS_TOKEN`, `SAKURACLOUD_ACCESS_TOKEN_SECRET`, `SAKURACLOUD_ZONE` (default
    ///   `is1a`), `KAJI_SAKURA_BASE_URL` (default the real API), `KAJI_SAKURA_RPS` (requests per second,
    ///   default 5 shared by the process; 0: no limit).
    /// - SSH: `KAJI_SSH_KEY`, Kaji's unencrypted ed25519 private key file (required); `KAJI_SSH_KNOWN_HOSTS`
    ///   (default `~/.kaji/known_hosts`); `KAJI_NODE_SSH_USER` (default `ubuntu`).
    /// - Settings: `KAJI_CLUSTER_POLL_MS` (default 5000), `KAJI_KUBE_MANIFEST_DIR` (default
    ///   `/etc/kubernetes/manifests`), `KAJI_CNI_MANIFEST` (default flannel), `KAJI_OWNER_KEYS_FILE`
    ///   (default `~/.ssh/authorized_keys`), `KAJI_UBUNTU_VERSION` (default the current stable archive).
    /// - Throws: `WorkflowError` naming the variable that is missing or wrong (never its value).
    /// - Parameter database: the worker's PostgreSQL client (the cluster inventory's connection pool).
    public static func load(_ environment: [String: String], database: PostgresClient, logger: Logger) throws -> ClusterWorkerEnvironment? {
        guard let token = environment["SAKURACLOUD_ACCESS_TOKEN"], !token.isEmpty else { return nil }
        var cloudConfiguration: SakuraCloudConfiguration
        do {
            cloudConfiguration = try SakuraCloudConfiguration.fromEnvironment(environment)
        } catch {
            throw WorkflowError("cluster workflows: \(error)", nonRetryable: true)
        }
        if let text = environment["KAJI_SAKURA_RPS"], !text.isEmpty {
            guard let rate = Double(text), rate >= 0 else {
                throw WorkflowError("cluster workflows: KAJI_SAKURA_RPS must be requests per second (0: no limit)", nonRetryable: true)
            }
            cloudConfiguration.rateLimiter = SakuraRateLimiter(requestsPerSecond: rate)
        }
        guard let keyPath = environment["KAJI_SSH_KEY"], !keyPath.isEmpty else {
            throw WorkflowError("cluster workflows: KAJI_SSH_KEY is not set; it must name Kaji's ed25519 private key file (ssh-keygen -t ed25519 -N '')", nonRetryable: true)
        }
        let identity = try SSHIdentity.load(privateKeyPath: keyPath)
        let home = environment["HOME"] ?? NSHomeDirectory()
        let knownHosts = environment["KAJI_SSH_KNOWN_HOSTS"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(home)/.kaji/known_hosts"
        try? FileManager.default.createDirectory(atPath: (knownHosts as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var settings = ClusterWorkflowSettings()
        if let text = environment["KAJI_CLUSTER_POLL_MS"], !text.isEmpty {
            guard let millis = Int(text), (10...600_000).contains(millis) else {
                throw WorkflowError("cluster workflows: KAJI_CLUSTER_POLL_MS must be milliseconds between 10 and 600000", nonRetryable: true)
            }
            settings.pollInterval = .milliseconds(millis)
        }
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let user = value("KAJI_NODE_SSH_USER") { settings.sshUser = user }
        if let directory = value("KAJI_KUBE_MANIFEST_DIR") { settings.manifestDirectory = directory }
        if let cni = value("KAJI_CNI_MANIFEST") { settings.cniManifest = cni }
        if let file = value("KAJI_OWNER_KEYS_FILE") { settings.ownerKeysFile = file }
        if let version = value("KAJI_UBUNTU_VERSION") { settings.ubuntuVersion = version }
        let services = ClusterServices(
            cloud: SakuraCloudClient(configuration: cloudConfiguration, logger: logger),
            ssh: SSHExecutor(configuration: SSHConfiguration(identity: identity, knownHosts: KnownHostsFile(path: knownHosts)), logger: logger),
            inventory: ClusterInventory(client: database, logger: logger), logger: logger)
        return ClusterWorkerEnvironment(services: services, settings: settings)
    }
}
