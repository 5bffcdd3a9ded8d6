import Engine
import Foundation
import KajiTesting
import Testing

@Suite("The kaji CLI", .timeLimit(.minutes(3)))
struct CLITests {
    @Test("enqueue, runs and show print the documented JSON", .needsDatabase)
    func jsonInterface() async throws {
        try await TestDatabase.with { db in
            let enqueued = try await KajiProcess.run(["enqueue", "diag.steps", "--input", #"{"steps": 2}"#, "--json"] + db.cliArguments)
            #expect(enqueued.status == 0, "stderr: \(enqueued.stderr)")
            struct Enqueued: Decodable { let id: UUID }
            let id = try JSONDecoder().decode(Enqueued.self, from: Data(enqueued.stdout.utf8)).id

            let pool = db.startPool(testRegistry())
            try await db.waitForFinish(id)
            try await pool.stop()

            let runs = try await KajiProcess.run(["runs", "--json"] + db.cliArguments)
            #expect(runs.status == 0)
            let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
            #expect(list.count == 1)
            for key in ["id", "kind", "state", "createdAt", "startedAt", "finishedAt"] { #expect(list[0][key] != nil, "runs --json lacks \(key)") }
            #expect(list[0]["state"] as? String == "succeeded")
            let created = try #require(list[0]["createdAt"] as? String)
            #expect(created.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "ISO 8601 with ms: \(created)")

            let show = try await KajiProcess.run(["show", id.uuidString, "--json"] + db.cliArguments)
            #expect(show.status == 0)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            #expect(doc["attempt"] as? Int == 1)
            let steps = try #require(doc["steps"] as? [[String: Any]])
            #expect(steps.count == 2)
            for key in ["name", "state", "attempts", "startedAt", "finishedAt"] { #expect(steps[0][key] != nil, "step lacks \(key)") }
            let events = try #require(doc["events"] as? [[String: Any]])
            for key in ["at", "type", "actor"] { #expect(events[0][key] != nil, "event lacks \(key)") }
            #expect(events[0]["type"] as? String == "run.enqueued")
            #expect((events[0]["actor"] as? String)?.hasPrefix("cli:") == true)
            #expect(events.contains { $0["type"] as? String == "step.succeeded" && $0["epoch"] as? Int == 1 && $0["attempt"] as? Int == 1 })

            let human = try await KajiProcess.run(["show", id.uuidString] + db.cliArguments)
            #expect(human.stdout.contains("step-2"))
            #expect(human.stdout.contains("run.succeeded"))
        }
    }

    @Test("bad input gets a clear error naming what is wrong, exit 2, and changes nothing", .needsDatabase)
    func badInput() async throws {
        try await TestDatabase.with { db in
            _ = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let before = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")

            let unknownKind = try await KajiProcess.run(["enqueue", "no.such.kind", "--input", "{}"] + db.cliArguments)
            #expect(unknownKind.status == 2)
            #expect(unknownKind.stderr.contains("unknown workflow kind 'no.such.kind'"))
            #expect(unknownKind.stderr.contains("diag.steps"))

            let badField = try await KajiProcess.run(["enqueue", "diag.steps", "--input", #"{"steps": "many"}"#] + db.cliArguments)
            #expect(badField.status == 2)
            #expect(badField.stderr.contains("'steps'"))

            let outOfRange = try await KajiProcess.run(["enqueue", "diag.steps", "--input", #"{"steps": -1}"#] + db.cliArguments)
            #expect(outOfRange.status == 2)
            #expect(outOfRange.stderr.contains("'steps'"))

            let notJSON = try await KajiProcess.run(["enqueue", "diag.steps", "--input", "{steps: 1"] + db.cliArguments)
            #expect(notJSON.status == 2)
            #expect(notJSON.stderr.contains("not valid JSON"))

            let badTime = try await KajiProcess.run(["enqueue", "diag.steps", "--at", "tomorrow"] + db.cliArguments)
            #expect(badTime.status == 2)
            #expect(badTime.stderr.contains("--at"))

            let unknownRun = try await KajiProcess.run(["show", UUID().uuidString] + db.cliArguments)
            #expect(unknownRun.status == 1)
            #expect(unknownRun.stderr.contains("no run with id"))

            let notAnID = try await KajiProcess.run(["retry", "abc"] + db.cliArguments)
            #expect(notAnID.status == 2)
            #expect(notAnID.stderr.contains("RUN 'abc'"))

            let badState = try await KajiProcess.run(["runs", "--state", "sleeping"] + db.cliArguments)
            #expect(badState.status == 2)
            #expect(badState.stderr.contains("--state 'sleeping'"))

            let unknownFlag = try await KajiProcess.run(["runs", "--colour"] + db.cliArguments)
            #expect(unknownFlag.status == 2)

            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events") == before)
        }
    }

    @Test("kaji watch follows a run to its end: exit 0 on success, 1 on failure", .needsDatabase)
    func watch() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let ok = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "stepMillis": 100}"#, actor: "test"))
            let bad = try await client.enqueue(EnqueueRequest(kind: DuplicateStepWorkflow.kind, actor: "test"))
            let watchOK = try KajiProcess(["watch", ok.id.uuidString] + db.cliArguments)
            let watchBad = try KajiProcess(["watch", bad.id.uuidString] + db.cliArguments)
            let pool = db.startPool(testRegistry())
            let okResult = try await watchOK.wait(timeout: .seconds(60))
            let badResult = try await watchBad.wait(timeout: .seconds(60))
            try await pool.stop()
            #expect(okResult.status == 0, "stderr: \(okResult.stderr)")
            #expect(okResult.stdout.contains("step-2"))
            #expect(okResult.stdout.contains("succeeded"))
            #expect(badResult.status == 1)
            #expect(badResult.stderr.contains("is used twice"))
            let unknown = try await KajiProcess.run(["watch", UUID().uuidString] + db.cliArguments)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no run with id"))
        }
    }

    @Test("the CLI says --queue, --payload and --limit for the client's field errors (exit 2), nothing enqueued", .needsDatabase)
    func doorErrorsNameFlags() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let queue = try await KajiProcess.run(["enqueue", "diag.steps", "--queue", "a b"] + db.cliArguments)
            #expect(queue.status == 2)
            #expect(queue.stderr.contains("error: --queue 'a b' is not valid"), "\(queue.stderr)")
            let reason = try await KajiProcess.run(["signal", run.id.uuidString, "approval", "--payload", #"{"approved": false}"#] + db.cliArguments)
            #expect(reason.status == 2)
            #expect(reason.stderr.contains("error: --payload field 'reason' is required"), "\(reason.stderr)")
            let limit = try await KajiProcess.run(["runs", "--limit", "0"] + db.cliArguments)
            #expect(limit.status == 2 && limit.stderr.contains("--limit 0 is out of range (1...10000)"), "\(limit.stderr)")
            #expect(try await client.runs().count == 1)
        }
    }

    @Test("an unreachable database is reported quickly with the address, exit 1")
    func unreachableDatabase() async throws {
        let result = try await KajiProcess.run(["runs", "--database-url", "postgres://postgres@127.0.0.1:1/postgres"], timeout: .seconds(30))
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot connect to postgres://postgres@127.0.0.1:1/postgres"))
    }
}
