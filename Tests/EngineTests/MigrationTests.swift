import Engine
import Foundation
import KajiMigrations
import KajiTesting
import Testing

private func shippedVersions() throws -> [Int] { try KajiMigrationFiles.load().map(\.version) }

@Suite("Migrations", .timeLimit(.minutes(2)), .needsDatabase)
struct MigrationTests {
    @Test("migrating twice is harmless: the second run applies nothing")
    func twice() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let migrator = Migrator(config: db.config, logger: db.logger)
            let first = try await migrator.migrate()
            #expect(first.map(\.version) == (try shippedVersions()))
            let second = try await migrator.migrate()
            #expect(second.isEmpty)
            #expect(try await migrator.currentVersion() == (try Migrator.latestVersion()))
        }
    }
}
