import Foundation
import KajiMigrations
import Logging
import PostgresNIO

/// Applies the numbered SQL files of `Migrations/` to a schema: the pending ones, in order, in one
/// transaction under an advisory lock, each recorded in `schema_versions`. Running it twice, or from two
/// processes at once, is harmless: the second finds nothing left to do.
package struct Migrator: Sendable {
    package let config: DatabaseConfig
    package let logger: Logger

    package init(config: DatabaseConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The newest schema version this build knows.
    package static func latestVersion() throws -> Int {
        try KajiMigrationFiles.load().last?.version ?? 0
    }

    /// Applies what is pending and returns the versions applied now (empty when up to date).
    @discardableResult
    package func migrate() async throws -> [KajiMigrationFiles.File] {
        let files = try KajiMigrationFiles.load()
        let connection = try await config.connect(logger: logger)
        let schema = config.schema
        do {
            var applied: [KajiMigrationFiles.File] = []
            try await execute(connection, "BEGIN")
            do {
                _ = try await connection.query("SELECT pg_advisory_xact_lock(7236001, hashtext(\(schema)))", logger: logger)
                try await execute(connection, """
                    SET LOCAL client_min_messages = warning;
                    CREATE SCHEMA IF NOT EXISTS "\(schema)";
                    SET LOCAL search_path TO "\(schema)";
                    CREATE TABLE IF NOT EXISTS schema_versions (
                        version    integer     PRIMARY KEY,
                        name       text        NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    );
                    """)
                var done = Set<Int>()
                for try await version in try await connection.query("SELECT version FROM schema_versions", logger: logger).decode(Int.self) {
                    done.insert(version)
                }
                for file in files where !done.contains(file.version) {
                    logger.info("applying migration", metadata: ["version": "\(file.version)", "name": "\(file.name)", "schema": "\(schema)"])
                    do {
                        try await execute(connection, file.sql)
                    } catch {
                        throw KajiError(.invalidState, "migration \(file.version)_\(file.name) failed: \(DatabaseConfig.describe(error)); nothing was applied")
                    }
                    _ = try await connection.query("INSERT INTO schema_versions (version, name) VALUES (\(file.version), \(file.name))", logger: logger)
                    applied.append(file)
                }
                try await execute(connection, "COMMIT")
            } catch {
                try? await execute(connection, "ROLLBACK")
                throw error
            }
            try? await connection.close()
            return applied
        } catch {
            try? await connection.close()
            if error is KajiError { throw error }
            throw KajiError(.databaseUnavailable, "migrate failed on \(config.redacted): \(DatabaseConfig.describe(error))")
        }
    }

    /// Runs each statement of a script in turn, on one connection.
    private func execute(_ connection: PostgresConnection, _ script: String) async throws {
        for statement in SQLScript.statements(script) {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// The schema's version (0 when Kaji's tables are absent).
    package func currentVersion() async throws -> Int {
        let connection = try await config.connect(logger: logger)
        do {
            var present = false
            for try await value in try await connection.query("SELECT to_regclass(\(config.schema + ".schema_versions")) IS NOT NULL", logger: logger).decode(Bool.self) {
                present = value
            }
            var version = 0
            if present {
                for try await value in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_versions", logger: logger).decode(Int.self) {
                    version = value
                }
            }
            try? await connection.close()
            return version
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Throws `schemaOutdated`, saying to run `kaji migrate`, unless the schema is at this build's version.
    package func requireCurrent() async throws {
        let latest = try Self.latestVersion()
        let current = try await currentVersion()
        if current < latest {
            throw KajiError(.schemaOutdated, "the database schema '\(config.schema)' is at version \(current), this kaji needs \(latest): run `kaji migrate` first")
        }
        if current > latest {
            throw KajiError(.schemaOutdated, "the database schema '\(config.schema)' is at version \(current), newer than this kaji (\(latest)): upgrade kaji")
        }
    }

    /// Drops the schema and everything in it (benchmarks and tests clean up with this).
    package func dropSchema() async throws {
        let connection = try await config.connect(logger: logger)
        try await execute(connection, "DROP SCHEMA IF EXISTS \"\(config.schema)\" CASCADE")
        try? await connection.close()
    }
}
