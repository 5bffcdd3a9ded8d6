import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing
import Worker

@Suite("Retention", .timeLimit(.minutes(3)))
struct RetentionTests {
    @Test("ages: 90d, 12h, 30m, 45s, 1d12h; anything else names the option")
    func ages() throws {
        #expect(try RetentionAge.parse("90d") == .seconds(90 * 86400))
        #expect(try RetentionAge.parse("12h") == .seconds(12 * 3600))
        #expect(try RetentionAge.parse("30m") == .seconds(1800))
        #expect(try RetentionAge.parse("45s") == .seconds(45))
        #expect(try RetentionAge.parse("1d12h") == .seconds(36 * 3600))
        for bad in ["30", "d", "-1d", "0d", "1w", "", "1.5d"] {
            do {
                _ = try RetentionAge.parse(bad)
                Issue.record("'\(bad)' parsed")
            } catch let error as KajiError {
                #expect(error.code == .invalidArgument)
                #expect(error.field == "olderThan" && error.message.hasPrefix("olderThan "), "names the field")
            }
        }
        #expect(try RetentionAge.fromEnvironment([:]) == nil)
        #expect(try RetentionAge.fromEnvironment(["KAJI_RETENTION": "7d"]) == .seconds(7 * 86400))
    }

    @Test("worker maintenance prunes when a retention is set, from several workers at once", .needsDatabase)
    func maintenancePrunes() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            let (old, recent, _) = try await RetentionFixtures.history(db)
            let store = db.store, logger = db.logger
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<4 {
                    group.addTask {
                        try await Maintenance(store: store, worker: "m\(i)", logger: logger, retention: .seconds(86400)).tick()
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(old)::uuid[])") == 0)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent)::uuid[])") == 40)
            let prunedCount = try await db.scalarInt("SELECT coalesce(sum((detail->>'count')::int), 0)::int8 FROM audit_events WHERE type = 'runs.pruned'")
            #expect(prunedCount == 1100, "each run pruned once")
            // Without a retention, nothing is pruned.
            try await db.store.client.query("UPDATE runs SET finished_at = now() - interval '90 days' WHERE id = ANY(\(recent)::uuid[])", logger: db.logger)
            try await Maintenance(store: store, worker: "off", logger: logger, retention: nil).tick()
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE id = ANY(\(recent)::uuid[])") == 40)
        }
    }
}
