import Engine

/// Registers `cluster.backup`, `cluster.restore` and `cluster.rotate-password`, with rotated passwords kept
/// in `vault`.
public func registerBackupWorkflows<Vault: PasswordVault>(into registry: inout WorkflowRegistry, services: ClusterServices, vault: Vault) {
    registry.register(BackupWorkflow(services: services))
    registry.register(RestoreWorkflow(services: services))
    registry.register(RotatePasswordWorkflow(services: services, vault: vault))
}
