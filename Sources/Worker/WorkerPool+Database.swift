import Engine
import Logging
import PostgresNIO

extension WorkerPool {
    /// A pool on a PostgreSQL client the caller runs (e.g. in the same service group): `kaji worker`'s way in.
    /// - Parameters:
    ///   - database: the PostgreSQL client; its pool carries claims, checkpoints and heartbeats.
    ///   - config: the database settings (schema, timeouts) the client was made from.
    ///   - metrics: where runs, steps, slots and leases are counted (default: `MetricsSystem.factory`).
    public convenience init(configuration: WorkerConfiguration, database: PostgresClient, config: DatabaseConfig,
                            registry: WorkflowRegistry, logger: Logger, metrics: EngineMetrics = EngineMetrics(), onOutcome: OutcomeHandler? = nil) {
        self.init(configuration: configuration, store: RunStore(client: database, config: config, logger: logger),
                  registry: registry, logger: logger, metrics: metrics, onOutcome: onOutcome)
    }
}
