import Engine
import Foundation
import Logging
import Provisioner

/// The services the cluster workflows are given through `init`: the cloud, SSH to the nodes, the
/// inventory. Tests and the demo hand in the simulator's address and the local sshd.
public struct ClusterServices: Sendable {
    public var cloud: SakuraCloudClient
    public var ssh: SSHExecutor
    public var inventory: ClusterInventory
    public var logger: Logger

    public init(cloud: SakuraCloudClient, ssh: SSHExecutor, inventory: ClusterInventory, logger: Logger) {
        self.cloud = cloud
        self.ssh = ssh
        self.inventory = inventory
        self.logger = logger
    }
}
