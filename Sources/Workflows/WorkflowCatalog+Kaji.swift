import Engine

extension WorkflowCatalog {
    /// The cluster operations: `cluster.provision`, `cluster.scale-out`, `cluster.delete`, `cluster.backup`,
    /// `cluster.restore` and `cluster.rotate-password`. Their services are bound only in a worker
    /// (`registerClusterWorkflows`, `registerBackupWorkflows`).
    public static let clusterOperations = WorkflowCatalog([
        WorkflowKind(ProvisionWorkflow.self),
        WorkflowKind(ScaleOutWorkflow.self),
        WorkflowKind(DeleteWorkflow.self),
        WorkflowKind(BackupWorkflow.self),
        WorkflowKind(RestoreWorkflow.self),
        WorkflowKind(RotatePasswordWorkflow<EngineSecretVault>.self),
    ])

    /// Every kind this build knows: the engine's diagnostics and the cluster operations. What the CLI and
    /// the HTTP server check requests against.
    public static let kaji = WorkflowCatalog.diagnostics.merging(.clusterOperations)
}
