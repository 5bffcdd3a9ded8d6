import Engine

/// Registers `cluster.backup`, `cluster.restore` and `cluster.rotate-password`; rotated passwords go to the
/// engine's encrypted secrets (``EngineSecretVault``: the worker needs `KAJI_SECRET_KEY` or
/// `KAJI_SECRET_KEY_FILE`).
public func registerBackupWorkflows(into registry: inout WorkflowRegistry, services: ClusterServices) {
    registerBackupWorkflows(into: &registry, services: services, vault: EngineSecretVault())
}

/// Registers the three workflows with rotated passwords kept in `vault`.
public func registerBackupWorkflows<Vault: PasswordVault>(into registry: inout WorkflowRegistry, services: ClusterServices, vault: Vault) {
    registry.register(BackupWorkflow(services: services))
    registry.register(RestoreWorkflow(services: services))
    registry.register(RotatePasswordWorkflow(services: services, vault: vault))
}
