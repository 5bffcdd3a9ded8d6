import Engine
import Foundation
import KajiTesting
import Testing

/// The database-direct CLI names whoever the shell says: its approval does not count for a cluster provision.
@Suite("Approvals from the database-direct CLI", .timeLimit(.minutes(2)), .needsDatabase)
struct ApprovalCLITests {
    @Test("KAJI_ACTOR_USER=bob kaji approve does not pass the four-eyes rule for alice's provision; nothing is stored; a rejection counts")
    func databaseDirectApprovalRefused() async throws {
        try await TestDatabase.with { db in
            let manifest = TestEnvironment.repositoryRoot.appendingPathComponent("examples/demo.yaml").path
            let applied = try await KajiProcess.run(["apply", "-f", manifest, "--json"] + db.cliArguments, environment: ["KAJI_ACTOR_USER": "alice"])
            #expect(applied.status == 0, "\(applied)")
            let report = try JSONSerialization.jsonObject(with: Data(applied.stdout.utf8)) as? [String: Any]
            let run = try #require(report?["runID"] as? String ?? report?["runId"] as? String, "\(applied.stdout)")
            let events = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")

            for command in [["approve", run], ["signal", run, "approval", "--payload", #"{"approved": true}"#]] {
                let approved = try await KajiProcess.run(command + db.cliArguments, environment: ["KAJI_ACTOR_USER": "bob"])
                #expect(approved.status == 1, "\(approved)")
                #expect(approved.stderr.contains("database-direct CLI") && approved.stderr.contains("cluster.provision"), "\(approved.stderr)")
                #expect(approved.stderr.contains("kaji serve") && approved.stderr.contains("Slack"), "\(approved.stderr)")
            }
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals") == 0)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events") == events, "a refused approval records nothing")

            let rejected = try await KajiProcess.run(["reject", run, "--reason", "not this week"] + db.cliArguments, environment: ["KAJI_ACTOR_USER": "bob"])
            #expect(rejected.status == 0, "\(rejected)")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM signals") == 1)
        }
    }
}
