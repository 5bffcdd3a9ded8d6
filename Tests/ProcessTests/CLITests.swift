import Engine
import Foundation
import KajiTesting
import Testing

/// Every test runs twice: on the database, and through a `kaji serve` child process with a token
/// (`KAJI_SERVER`, `KAJI_TOKEN`): the same output and exit codes on both paths.
@Suite("The kaji CLI", .timeLimit(.minutes(3)))
struct CLITests {
    @Test("enqueue, runs and show print the documented JSON", .needsDatabase, arguments: CLIMode.allCases)
    func jsonInterface(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let db = cli.db
            let enqueued = try await cli.run(["enqueue", "diag.steps", "--input", #"{"steps": 2}"#, "--json"])
            #expect(enqueued.status == 0, "stderr: \(enqueued.stderr)")
            struct Enqueued: Decodable { let id: UUID }
            let id = try JSONDecoder().decode(Enqueued.self, from: Data(enqueued.stdout.utf8)).id

            let pool = db.startPool(testRegistry())
            try await db.waitForFinish(id)
            try await pool.stop()

            let runs = try await cli.run(["runs", "--json"])
            #expect(runs.status == 0)
            let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
            #expect(list.count == 1)
            for key in ["id", "kind", "state", "createdAt", "startedAt", "finishedAt"] { #expect(list[0][key] != nil, "runs --json lacks \(key)") }
            #expect(list[0]["state"] as? String == "succeeded")
            let created = try #require(list[0]["createdAt"] as? String)
            #expect(created.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "ISO 8601 with ms: \(created)")

            let show = try await cli.run(["show", id.uuidString, "--json"])
            #expect(show.status == 0)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            #expect(doc["attempt"] as? Int == 1)
            let steps = try #require(doc["steps"] as? [[String: Any]])
            #expect(steps.count == 2)
            for key in ["name", "state", "attempts", "startedAt", "finishedAt"] { #expect(steps[0][key] != nil, "step lacks \(key)") }
            let events = try #require(doc["events"] as? [[String: Any]])
            for key in ["at", "type", "actor"] { #expect(events[0][key] != nil, "event lacks \(key)") }
            #expect(events[0]["type"] as? String == "run.enqueued")
            #expect((events[0]["actor"] as? String)?.hasPrefix(cli.actorPrefix) == true, "\(events[0])")
            #expect(events.contains { $0["type"] as? String == "step.succeeded" && $0["epoch"] as? Int == 1 && $0["attempt"] as? Int == 1 })

            let human = try await cli.run(["show", id.uuidString])
            #expect(human.stdout.contains("step-2"))
            #expect(human.stdout.contains("run.succeeded"))
        }
    }

    @Test("bad input gets a clear error naming what is wrong, exit 2, and changes nothing", .needsDatabase, arguments: CLIMode.allCases)
    func badInput(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let db = cli.db
            _ = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let before = try await db.scalarInt("SELECT count(*)::int8 FROM audit_events")

            let unknownKind = try await cli.run(["enqueue", "no.such.kind", "--input", "{}"])
            #expect(unknownKind.status == 2)
            #expect(unknownKind.stderr.contains("unknown workflow kind 'no.such.kind'"))
            #expect(unknownKind.stderr.contains("diag.steps"))

            let badField = try await cli.run(["enqueue", "diag.steps", "--input", #"{"steps": "many"}"#])
            #expect(badField.status == 2)
            #expect(badField.stderr.contains("'steps'"))

            let outOfRange = try await cli.run(["enqueue", "diag.steps", "--input", #"{"steps": -1}"#])
            #expect(outOfRange.status == 2)
            #expect(outOfRange.stderr.contains("'steps'"))

            let notJSON = try await cli.run(["enqueue", "diag.steps", "--input", "{steps: 1"])
            #expect(notJSON.status == 2)
            #expect(notJSON.stderr.contains("not valid JSON"))

            let badTime = try await cli.run(["enqueue", "diag.steps", "--at", "tomorrow"])
            #expect(badTime.status == 2)
            #expect(badTime.stderr.contains("--at"))

            let unknownRun = try await cli.run(["show", UUID().uuidString])
            #expect(unknownRun.status == 1)
            #expect(unknownRun.stderr.contains("no run with id"))

            let notAnID = try await cli.run(["retry", "abc"])
            #expect(notAnID.status == 2)
            #expect(notAnID.stderr.contains("RUN 'abc'"))

            let badState = try await cli.run(["runs", "--state", "sleeping"])
            #expect(badState.status == 2)
            #expect(badState.stderr.contains("--state 'sleeping'"))

            let unknownFlag = try await cli.run(["runs", "--colour"])
            #expect(unknownFlag.status == 2)

            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events") == before)
        }
    }

    @Test("kaji watch follows a run to its end: exit 0 on success, 1 on failure", .needsDatabase, arguments: CLIMode.allCases)
    func watch(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let db = cli.db
            let client = db.client(testRegistry())
            let ok = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "stepMillis": 100}"#, actor: "test"))
            let bad = try await client.enqueue(EnqueueRequest(kind: DuplicateStepWorkflow.kind, actor: "test"))
            let watchOK = try cli.start(["watch", ok.id.uuidString])
            let watchBad = try cli.start(["watch", bad.id.uuidString])
            let pool = db.startPool(testRegistry())
            let okResult = try await watchOK.wait(timeout: .seconds(60))
            let badResult = try await watchBad.wait(timeout: .seconds(60))
            try await pool.stop()
            #expect(okResult.status == 0, "stderr: \(okResult.stderr)")
            #expect(okResult.stdout.contains("step-2"))
            #expect(okResult.stdout.contains("succeeded"))
            #expect(badResult.status == 1)
            #expect(badResult.stderr.contains("is used twice"))
            let unknown = try await cli.run(["watch", UUID().uuidString])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no run with id"))
        }
    }

    @Test("the CLI says --queue, --payload and --limit for the client's field errors (exit 2), nothing enqueued", .needsDatabase, arguments: CLIMode.allCases)
    func doorErrorsNameFlags(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let db = cli.db
            let client = db.client(testRegistry())
            let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            let queue = try await cli.run(["enqueue", "diag.steps", "--queue", "a b"])
            #expect(queue.status == 2)
            #expect(queue.stderr.contains("error: --queue 'a b' is not valid"), "\(queue.stderr)")
            let reason = try await cli.run(["signal", run.id.uuidString, "approval", "--payload", #"{"approved": false}"#])
            #expect(reason.status == 2)
            #expect(reason.stderr.contains("error: --payload field 'reason' is required"), "\(reason.stderr)")
            let limit = try await cli.run(["runs", "--limit", "0"])
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

    @Test("an unreachable server is reported quickly with its address, exit 1, the token not shown")
    func unreachableServer() async throws {
        let token = "kaji_" + String(repeating: "Z", count: 43)
        let result = try await KajiProcess.run(["runs", "--server", "http://127.0.0.1:1"], environment: ["KAJI_TOKEN": token], timeout: .seconds(30))
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot reach kaji serve at http://127.0.0.1:1"), "\(result.stderr)")
        #expect(!result.stderr.contains(token) && !result.stdout.contains(token))
    }

    @Test("--server takes only http(s) URLs and names the flag (or KAJI_SERVER); with --database-url, --schema or no token it is refused, exit 2")
    func serverOption() async throws {
        let env = ["KAJI_TOKEN": "kaji_" + String(repeating: "Q", count: 43), "KAJI_SERVER": ""]
        for bad in ["ftp://127.0.0.1:8080", "127.0.0.1:8080", "http://", "file:///etc/passwd", "http://127.0.0.1:8080/?x=1"] {
            let result = try await KajiProcess.run(["runs", "--server", bad], environment: env)
            #expect(result.status == 2, "\(bad): \(result)")
            #expect(result.stderr.contains("error: --server "), "\(bad): \(result.stderr)")
        }
        let credentials = try await KajiProcess.run(["runs", "--server", "http://alice:pa55word@127.0.0.1:8080"], environment: env)
        #expect(credentials.status == 2)
        #expect(credentials.stderr.contains("--server must not carry a user or password"))
        #expect(!credentials.stderr.contains("pa55word"), "the password is not repeated")
        let fromEnvironment = try await KajiProcess.run(["runs"], environment: env.merging(["KAJI_SERVER": "gopher://x"]) { $1 })
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.stderr.contains("KAJI_SERVER 'gopher://x' is not an http:// or https:// URL"), "\(fromEnvironment.stderr)")
        let both = try await KajiProcess.run(["runs", "--server", "http://127.0.0.1:1", "--database-url", "postgres://x@127.0.0.1:1/x"], environment: env)
        #expect(both.status == 2)
        #expect(both.stderr.contains("--server and --database-url both given"))
        let schema = try await KajiProcess.run(["runs", "--server", "http://127.0.0.1:1", "--schema", "s"], environment: env)
        #expect(schema.status == 2)
        #expect(schema.stderr.contains("--schema is not taken with --server"))
        let noToken = try await KajiProcess.run(["runs", "--server", "http://127.0.0.1:1"], environment: ["KAJI_TOKEN": "", "KAJI_SERVER": ""])
        #expect(noToken.status == 2)
        #expect(noToken.stderr.contains("no token for --server: pass --token or set KAJI_TOKEN"))
        let migrate = try await KajiProcess.run(["migrate", "--server", "http://127.0.0.1:1"], environment: env)
        #expect(migrate.status == 2)
        #expect(migrate.stderr.contains("--server is not taken by this command"))
    }

    @Test("a revoked, unknown or too weak token: the server's reason, exit 1, the token never printed", .needsDatabase)
    func refusedToken() async throws {
        try await CLIFixture.with(.server, role: .viewer) { cli in
            let enqueue = try await cli.run(["enqueue", "diag.steps"])
            #expect(enqueue.status == 1)
            #expect(enqueue.stderr.contains("token:cli-test has role viewer; this needs operator or above"), "\(enqueue.stderr)")
            let unknown = "kaji_" + String(repeating: "U", count: 43)
            let stranger = try await cli.run(["runs"], environment: ["KAJI_TOKEN": unknown])
            #expect(stranger.status == 1)
            #expect(stranger.stderr.contains("the token is not known"))
            #expect(!stranger.stderr.contains(unknown))
            let byFlag = try await cli.run(["runs", "--token", unknown])
            #expect(byFlag.status == 1)
            #expect(!byFlag.stderr.contains(unknown) && !byFlag.stdout.contains(unknown))
            try await cli.db.client(testRegistry()).revokeToken(name: cli.tokenName, actor: "test")
            let revoked = try await cli.run(["runs"])
            #expect(revoked.status == 1)
            #expect(revoked.stderr.contains("token 'cli-test' was revoked"), "\(revoked.stderr)")
        }
    }
}
