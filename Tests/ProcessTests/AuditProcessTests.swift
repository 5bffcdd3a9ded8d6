import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing

/// `kaji audit verify`, `kaji audit` and the sealing of `kaji worker` processes (moved from EngineTests' AuditTests).
@Suite("Verifiable audit through kaji audit and worker processes", .timeLimit(.minutes(4)), .needsDatabase)
struct AuditProcessTests {
    @Test("kaji audit verify passes, then names the event a superuser altered and the column that differs")
    func verifyDetectsAlteration() async throws {
        try await TestDatabase.with { db in
            _ = try await AuditFixtures.someHistory(db)
            let ok = try await KajiProcess.run(["audit", "verify"] + db.cliArguments)
            #expect(ok.status == 0, "stderr: \(ok.stderr)")
            let total = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            #expect(ok.stdout.contains("audit ok: \(total) events verified"))
            let head = try #require(ok.stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
            #expect(try await KajiProcess.run(["audit", "verify", "--expect-head", head] + db.cliArguments).status == 0)
            let forged = head.dropLast(1) + (head.hasSuffix("0") ? "1" : "0")
            let rewritten = try await KajiProcess.run(["audit", "verify", "--expect-head", String(forged)] + db.cliArguments)
            #expect(rewritten.status == 1)
            #expect(rewritten.stderr.contains("rewritten"))

            let victim = try await db.scalarInt("SELECT id FROM audit_events WHERE type = 'step.succeeded' ORDER BY id LIMIT 1 OFFSET 2")
            try await AuditFixtures.tamper(db, "UPDATE audit_events SET actor = 'worker:innocent', detail = '{\"note\": \"nothing happened\"}' WHERE id = \(victim)")
            let bad = try await KajiProcess.run(["audit", "verify"] + db.cliArguments)
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("audit event \(victim) "), "stderr: \(bad.stderr)")
            #expect(bad.stderr.contains("was altered: actor, detail differ"))

            let json = try await KajiProcess.run(["audit", "verify", "--json"] + db.cliArguments)
            #expect(json.status == 1)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(doc["ok"] as? Bool == false)
            let problem = try #require(doc["problem"] as? [String: Any])
            #expect(problem["eventId"] as? Int == victim)
            #expect(problem["kind"] as? String == "altered")
            #expect(problem["fields"] as? [String] == ["actor", "detail"])
        }
    }

    @Test("kaji audit verify names a deleted event")
    func verifyDetectsDeletion() async throws {
        try await TestDatabase.with { db in
            let runs = try await AuditFixtures.someHistory(db)
            #expect(try await db.store.verifyAudit().ok)
            let victim = try await db.scalarInt("SELECT id FROM audit_events WHERE run_id = \(runs[2]) AND type = 'run.claimed'")
            try await AuditFixtures.tamper(db, "DELETE FROM audit_events WHERE id = \(victim)")
            let bad = try await KajiProcess.run(["audit", "verify", "--json"] + db.cliArguments)
            #expect(bad.status == 1)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
            let problem = try #require(doc["problem"] as? [String: Any])
            #expect(problem["kind"] as? String == "missing")
            #expect(problem["eventId"] as? Int == victim)
            #expect(bad.stderr.contains("audit event \(victim) (chain entry"))
            #expect(bad.stderr.contains("deleted"))
        }
    }

    @Test("worker maintenance seals events in the background")
    func workersSeal() async throws {
        try await TestDatabase.with { db in
            _ = try await AuditFixtures.someHistory(db)
            let worker = try db.spawnWorker()
            try await eventually("the workers sealed every event") {
                try await db.scalarInt("SELECT count(*)::int8 FROM audit_chain") >= db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type NOT LIKE 'worker.%'")
            }
            worker.signal(SIGTERM)
            _ = try await worker.wait(timeout: .seconds(30))
            #expect(try await db.store.verifyAudit().ok)
        }
    }

    @Test("kaji audit filters by run, actor, type and time, and prints JSON")
    func readEvents() async throws {
        try await TestDatabase.with { db in
            let runs = try await AuditFixtures.someHistory(db)
            let byRun = try await KajiProcess.run(["audit", "--run", runs[0].uuidString, "--json"] + db.cliArguments)
            #expect(byRun.status == 0, "stderr: \(byRun.stderr)")
            let events = try #require(try JSONSerialization.jsonObject(with: Data(byRun.stdout.utf8)) as? [[String: Any]])
            #expect(events.first?["type"] as? String == "run.enqueued")
            #expect(events.last?["type"] as? String == "run.succeeded")
            #expect(events.allSatisfy { $0["runId"] as? String == runs[0].uuidString })
            #expect(events.first?["detail"] is [String: Any], "detail is JSON, not a string")

            let byActor = try await KajiProcess.run(["audit", "--actor", "cli:alice@host", "--json"] + db.cliArguments)
            let enqueues = try #require(try JSONSerialization.jsonObject(with: Data(byActor.stdout.utf8)) as? [[String: Any]])
            #expect(enqueues.count == 5)
            let ids = enqueues.compactMap { $0["id"] as? Int }
            #expect(ids == ids.sorted(), "oldest first")

            let future = try await KajiProcess.run(["audit", "--since", "2999-01-01T00:00:00Z", "--json"] + db.cliArguments)
            #expect((try JSONSerialization.jsonObject(with: Data(future.stdout.utf8)) as? [Any])?.isEmpty == true, "stdout: \(future.stdout)")
            let limited = try await KajiProcess.run(["audit", "--type", "step.succeeded", "--limit", "3", "--json"] + db.cliArguments)
            #expect((try JSONSerialization.jsonObject(with: Data(limited.stdout.utf8)) as? [Any])?.count == 3)
            let bad = try await KajiProcess.run(["audit", "--since", "yesterday"] + db.cliArguments)
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("--since"))
            let human = try await KajiProcess.run(["audit", "--run", runs[1].uuidString] + db.cliArguments)
            #expect(human.stdout.contains("run.claimed"))
        }
    }
}
