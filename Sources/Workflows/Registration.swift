import Engine

/// Registers the cluster workflows that create and remove nodes: `cluster.provision`, `cluster.scale-out`
/// and `cluster.delete`.
/// - Parameter settings: default `ClusterWorkflowSettings()`.
public func registerClusterWorkflows(into registry: inout WorkflowRegistry, services: ClusterServices, settings: ClusterWorkflowSettings = ClusterWorkflowSettings()) {
    registry.register(ProvisionWorkflow(services: services, settings: settings))
    registry.register(ScaleOutWorkflow(services: services, settings: settings))
    registry.register(DeleteWorkflow(services: services, settings: settings))
}
