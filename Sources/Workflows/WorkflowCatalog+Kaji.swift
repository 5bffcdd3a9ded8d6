import Engine

extension WorkflowCatalog {
    /// The cluster operations: `cluster.provision`, `cluster.scale-out`, `cluster.delete`, `cluster.backup`,
    /// `cluster.restore` and `cluster.rotate-password`. Their services are bound only in a worker
    /// (`registerClusterWorkflows`, `registerBackupWorkflows`).
    ///
    /// Provision and delete wait for an approver other than the requester, and an approval from the
    /// database-direct CLI (`cli:USER@HOST`, named by the shell) does not count for them: an approver
    /// approves through `kaji serve` with a token, or from Slack.
    public static let clusterOperations = WorkflowCatalog([
        WorkflowKind(ProvisionWorkflow.self).allowingDatabaseDirectApproval(false),
        WorkflowKind(ScaleOutWorkflow.self),
        WorkflowKind(DeleteWorkflow.self).allowingDatabaseDirectApproval(false),
        WorkflowKind(BackupWorkflow.self),
        WorkflowKind(RestoreWorkflow.self),
        WorkflowKind(RotatePasswordWorkflow<EngineSecretVault>.self),
    ])

    /// Every kind this build knows: the engine's diagnostics and the cluster operations. What the CLI and
    /// the HTTP server check requests against.
    public static let kaji = WorkflowCatalog.diagnostics.merging(.clusterOperations)
}
