import Foundation
import Logging

/// What `kaji migrate` reports: the schema, its version now, and the migrations applied by this call.
public struct MigrationReport: Codable, Sendable, Equatable {
    public struct Applied: Codable, Sendable, Equatable {
        public let version: Int
        public let name: String
    }

    public let schema: String
    public let version: Int
    public let applied: [Applied]
}

extension KajiClient {
    /// Applies the pending migrations to `config`'s schema (in order, in one transaction, under an advisory
    /// lock: harmless twice or from several processes at once) and reports where the schema stands.
    public static func migrate(_ config: DatabaseConfig, logger: Logger) async throws -> MigrationReport {
        let migrator = Migrator(config: config, logger: logger)
        let applied = try await migrator.migrate()
        let version = try await migrator.currentVersion()
        return MigrationReport(schema: config.schema, version: version, applied: applied.map { .init(version: $0.version, name: $0.name) })
    }

    /// Throws a clear error ("run `kaji migrate`") unless the schema is at the version this build knows.
    public static func requireCurrentSchema(_ config: DatabaseConfig, logger: Logger) async throws {
        try await Migrator(config: config, logger: logger).requireCurrent()
    }
}
