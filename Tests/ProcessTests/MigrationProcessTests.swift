import Engine
import Foundation
import KajiMigrations
import KajiTesting
import Testing

private func shippedVersions() throws -> [Int] { try KajiMigrationFiles.load().map(\.version) }

/// `kaji migrate` and `kaji worker` on a schema (moved from EngineTests' MigrationTests).
@Suite("Migrations by kaji processes", .timeLimit(.minutes(2)), .needsDatabase)
struct MigrationProcessTests {
    @Test("migrating from several processes at once applies each migration once")
    func concurrently() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let processes = try (0..<4).map { _ in try KajiProcess(["migrate", "--json"] + db.cliArguments) }
            var applied: [Int] = []
            for p in processes {
                let result = try await p.wait()
                #expect(result.status == 0, "stderr: \(result.stderr)")
                struct Out: Decodable { let applied: [Int]; let version: Int }
                let out = try JSONDecoder().decode(Out.self, from: Data(result.stdout.utf8))
                #expect(out.version == (try Migrator.latestVersion()))
                applied += out.applied
            }
            #expect(applied.sorted() == (try shippedVersions()), "each migration applied by exactly one process")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM schema_versions") == (try shippedVersions()).count)
        }
    }

    @Test("a worker refuses to start on an old schema and says to run kaji migrate")
    func workerRefusesOldSchema() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let result = try await KajiProcess.run(["worker"] + db.cliArguments, timeout: .seconds(30))
            #expect(result.status == 1)
            #expect(result.stderr.contains("run `kaji migrate`"))
        }
    }
}
