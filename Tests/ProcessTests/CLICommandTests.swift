import Engine
import Foundation
import KajiTesting
import Testing

/// The commands beyond the run basics, each on the database and through `kaji serve` with a token: the
/// same output and exit codes on both paths (only the recorded actor differs: `cli:USER@HOST` or
/// `token:NAME`).
@Suite("The kaji CLI on both paths: schedules, secrets, audit, prune, tokens, decisions, manifests", .needsDatabase, .timeLimit(.minutes(3)))
struct CLICommandTests {
    func json(_ result: CommandResult) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }

    @Test("schedule add, list, pause, resume, remove; errors name the flag", arguments: CLIMode.allCases)
    func schedules(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let added = try await cli.run(["schedule", "add", "nightly", "--cron", "0 3 * * *", "--timezone", "Asia/Tokyo", "--kind", "diag.steps", "--input", #"{"steps": 1}"#, "--json"])
            #expect(added.status == 0, "\(added)")
            let document = try #require(try json(added) as? [String: Any])
            #expect(document["name"] as? String == "nightly")
            #expect((document["createdBy"] as? String)?.hasPrefix(cli.actorPrefix) == true, "\(document)")
            let list = try await cli.run(["schedule", "list"])
            #expect(list.status == 0)
            #expect(list.stdout.contains("nightly") && list.stdout.contains("active"), "\(list.stdout)")
            let paused = try await cli.run(["schedule", "pause", "nightly"])
            #expect(paused.stdout == "paused schedule nightly\n", "\(paused)")
            #expect(try await cli.run(["schedule", "list"]).stdout.contains("paused"))
            let resumed = try await cli.run(["schedule", "resume", "nightly", "--json"])
            #expect(resumed.status == 0)
            #expect((try json(resumed) as? [String: Any])?["paused"] as? Bool == false)
            let removed = try await cli.run(["schedule", "remove", "nightly"])
            #expect(removed.stdout == "removed schedule nightly\n")
            let again = try await cli.run(["schedule", "remove", "nightly"])
            #expect(again.status == 1)
            #expect(again.stderr.contains("nightly"), "\(again.stderr)")
            let badCron = try await cli.run(["schedule", "add", "x", "--cron", "61 * * * *", "--kind", "diag.steps"])
            #expect(badCron.status == 2)
            #expect(badCron.stderr.contains("--cron"), "\(badCron.stderr)")
            let badQueue = try await cli.run(["schedule", "add", "x", "--cron", "@daily", "--kind", "diag.steps", "--queue", "a b"])
            #expect(badQueue.status == 2)
            #expect(badQueue.stderr.contains("--queue"), "\(badQueue.stderr)")
            #expect((try json(try await cli.run(["schedule", "list", "--json"])) as? [Any])?.isEmpty == true)
        }
    }

    @Test("secret put, list and reveal (audited with the actor, never the value)", arguments: CLIMode.allCases)
    func secrets(mode: CLIMode) async throws {
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await CLIFixture.with(mode, databaseEnvironment: ["KAJI_SECRET_KEY": key]) { cli in
            let value = "hunter2-\(UInt32.random(in: 0...UInt32.max))"
            let put = try await cli.run(["secret", "put", "db-password"], stdin: try stdinFile(value + "\n"))
            #expect(put.status == 0, "\(put)")
            let reference = put.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(reference.hasPrefix("secret:"))
            let list = try await cli.run(["secret", "list", "--json"])
            let secrets = try #require(try json(list) as? [[String: Any]])
            #expect(secrets.count == 1 && secrets.first?["name"] as? String == "db-password")
            #expect(!list.stdout.contains(value))
            let revealed = try await cli.run(["secret", "reveal", reference])
            #expect(revealed.status == 0, "\(revealed)")
            #expect(revealed.stdout == value + "\n")
            let audit = try await cli.run(["audit", "--type", "secret.revealed", "--json"])
            let events = try #require(try json(audit) as? [[String: Any]])
            #expect(events.count == 1)
            #expect((events.first?["actor"] as? String)?.hasPrefix(cli.actorPrefix) == true, "\(events)")
            #expect(!audit.stdout.contains(value))
            let unknown = try await cli.run(["secret", "reveal", "secret:\(UUID())"])
            #expect(unknown.status == 1)
            let empty = try await cli.run(["secret", "put", "x"], stdin: try stdinFile(""))
            #expect(empty.status == 2)
            #expect(empty.stderr.contains("no value on standard input"))
        }
    }

    @Test("audit pages back in time with --cursor; verify", arguments: CLIMode.allCases)
    func audit(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            _ = try await cli.db.client(testRegistry()).enqueueBatch(kind: "diag.steps", inputs: Array(repeating: "{}", count: 7), actor: "pager")
            var seen: [Int] = []
            var arguments = ["audit", "--actor", "pager", "--limit", "3", "--json"]
            for _ in 0..<10 {
                let page = try await cli.run(arguments)
                #expect(page.status == 0, "\(page)")
                seen += (try json(page) as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
                guard let line = page.stderr.split(separator: "\n").first(where: { $0.contains("--cursor") }) else { break }
                let cursor = try #require(line.split(separator: " ").drop { $0 != "--cursor" }.dropFirst().first.map(String.init))
                arguments = ["audit", "--actor", "pager", "--limit", "3", "--json", "--cursor", cursor]
            }
            #expect(seen.count == 7 && Set(seen).count == 7, "\(seen)")
            let verify = try await cli.run(["audit", "verify"])
            #expect(verify.status == 0, "\(verify)")
            #expect(verify.stdout.hasPrefix("audit ok: "))
            let badHead = try await cli.run(["audit", "verify", "--expect-head", "1:xyz"])
            #expect(badHead.status == 2)
            #expect(badHead.stderr.contains("--expect-head"))
            let badCursor = try await cli.run(["audit", "--cursor", "nope"])
            #expect(badCursor.status == 2)
            #expect(badCursor.stderr.contains("--cursor"), "\(badCursor.stderr)")
        }
    }

    @Test("runs filters and --cursor pages", arguments: CLIMode.allCases)
    func runs(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let client = cli.db.client(testRegistry())
            for i in 0..<5 { _ = try await client.enqueue(EnqueueRequest(kind: "diag.steps", queue: i < 3 ? "a" : "b", concurrencyKey: i == 0 ? "cluster:x" : nil, actor: "test")) }
            let first = try await cli.run(["runs", "--limit", "2", "--json"])
            #expect(first.status == 0)
            let page = try #require(try json(first) as? [[String: Any]])
            #expect(page.count == 2)
            #expect(first.stderr.contains("kaji runs --cursor "), "\(first.stderr)")
            let line = try #require(first.stderr.split(separator: "\n").first { $0.contains("--cursor") })
            let cursor = try #require(line.split(separator: " ").drop { $0 != "--cursor" }.dropFirst().first.map(String.init))
            let second = try await cli.run(["runs", "--limit", "2", "--json", "--cursor", cursor])
            let next = try #require(try json(second) as? [[String: Any]])
            #expect(next.count == 2)
            #expect(Set(next.compactMap { $0["id"] as? String }).isDisjoint(with: page.compactMap { $0["id"] as? String }))
            #expect((try json(try await cli.run(["runs", "--queue", "a", "--json"])) as? [Any])?.count == 3)
            #expect((try json(try await cli.run(["runs", "--concurrency-key", "cluster:x", "--json"])) as? [Any])?.count == 1)
            #expect((try json(try await cli.run(["runs", "--actor", "test", "--json"])) as? [Any])?.count == 5)
            let human = try await cli.run(["runs", "--queue", "b"])
            #expect(human.stdout.hasPrefix("ID "), "\(human.stdout)")
            #expect(human.stdout.split(separator: "\n").count == 3)
            #expect(try await cli.run(["runs", "--queue", "none"]).stdout == "no runs\n")
        }
    }

    @Test("prune deletes finished runs older than the age", arguments: CLIMode.allCases)
    func prune(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let client = cli.db.client(testRegistry())
            let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            try await client.cancel(runID: run.id, reason: "old", actor: "test")
            try await eventually("the run is a second old") {
                try await cli.db.scalarInt("SELECT count(*)::int8 FROM runs WHERE finished_at < now() - interval '1 second'") == 1
            }
            let pruned = try await cli.run(["prune", "--older-than", "1s", "--json"])
            #expect(pruned.status == 0, "\(pruned)")
            #expect((try json(pruned) as? [String: Any])?["runs"] as? Int == 1)
            #expect(try await cli.db.scalarInt("SELECT count(*)::int8 FROM runs") == 0)
            let bad = try await cli.run(["prune", "--older-than", "soon"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("--older-than"), "\(bad.stderr)")
        }
    }

    @Test("token create, list and revoke", arguments: CLIMode.allCases)
    func tokens(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let created = try await cli.run(["token", "create", "ci-bot", "--role", "operator", "--expires", "30d", "--json"])
            #expect(created.status == 0, "\(created)")
            let document = try #require(try json(created) as? [String: Any])
            let token = try #require(document["token"] as? String)
            #expect(token.hasPrefix("kaji_"))
            let list = try await cli.run(["token", "list", "--json"])
            let tokens = try #require(try json(list) as? [[String: Any]])
            #expect(tokens.contains { $0["name"] as? String == "ci-bot" && ($0["createdBy"] as? String)?.hasPrefix(cli.actorPrefix) == true }, "\(tokens)")
            #expect(!list.stdout.contains(token))
            let taken = try await cli.run(["token", "create", "ci-bot", "--role", "viewer"])
            #expect(taken.status == 1)
            #expect(taken.stderr.contains("taken"), "\(taken.stderr)")
            let badExpiry = try await cli.run(["token", "create", "x", "--role", "viewer", "--expires", "soon"])
            #expect(badExpiry.status == 2)
            #expect(badExpiry.stderr.contains("--expires"), "\(badExpiry.stderr)")
            let revoked = try await cli.run(["token", "revoke", "ci-bot"])
            #expect(revoked.stdout == "revoked ci-bot\n", "\(revoked)")
            let unknown = try await cli.run(["token", "revoke", "nobody"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no token named 'nobody'"))
        }
    }

    @Test("the requester cannot approve their own run; another can; a rejection fails the run", arguments: CLIMode.allCases)
    func decisions(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let client = cli.client(testRegistry())
            let requester = mode == .database ? KajiClient.cliActor() : "token:\(cli.tokenName)"
            let approved = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: requester))
            let rejected = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: requester))
            let pool = cli.db.startPool(testRegistry())
            try await eventually("both runs wait for approval") {
                let first = try await client.runSummary(id: approved.id).state, second = try await client.runSummary(id: rejected.id).state
                return first == .waiting && second == .waiting
            }
            let own = try await cli.run(["approve", approved.id.uuidString])
            if mode == .database {
                // Four eyes on principals: a database-direct approval does not count for a kind that needs a
                // distinct approver, whoever sends it.
                #expect(own.status == 1, "\(own)")
                #expect(own.stderr.contains("kaji serve"), "\(own.stderr)")
            } else {
                #expect(own.status == 2, "\(own)")
                #expect(own.stderr.contains("\(requester) requested run") && own.stderr.contains("cannot approve it"), "\(own.stderr)")
            }
            // Another person: another user on the database, another token through the server.
            var other: [String: String] = ["KAJI_ACTOR_USER": "bob-\(UInt16.random(in: 0...UInt16.max))"]
            if mode == .server {
                other = ["KAJI_TOKEN": try await client.createToken(name: "bob", role: .approver, actor: "test").token]
            }
            let ok = try await cli.run(["approve", approved.id.uuidString, "--reason", "looks right", "--json"], environment: other)
            if mode == .database {
                #expect(ok.status == 1, "\(ok)")
                _ = try await client.approve(runID: approved.id, reason: "looks right", sender: "token:bob")
            } else {
                #expect(ok.status == 0, "\(ok)")
                #expect((try json(ok) as? [String: Any])?["signal"] as? String == "approval (approved)")
            }
            let watched = try await cli.run(["watch", approved.id.uuidString], timeout: .seconds(90))
            #expect(watched.status == 0, "\(watched)")
            #expect(watched.stdout.contains("after-approval"))
            let noReason = try await cli.run(["reject", rejected.id.uuidString, "--reason", " "])
            #expect(noReason.status == 2)
            #expect(noReason.stderr.contains("--reason"), "\(noReason.stderr)")
            // (The requester's own decisions are ignored by a run that waits for another approver: bob rejects.)
            let no = try await cli.run(["reject", rejected.id.uuidString, "--reason", "not now"], environment: other)
            #expect(no.status == 0, "\(no)")
            #expect(no.stdout.hasPrefix("sent approval (rejected) to run"))
            let failed = try await cli.run(["watch", rejected.id.uuidString], timeout: .seconds(90))
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("not now"), "\(failed.stderr)")
            try await pool.stop()
            let retried = try await cli.run(["retry", rejected.id.uuidString])
            #expect(retried.status == 0, "\(retried)")
            #expect(retried.stdout.contains("is pending again"))
            let cancel = try await cli.run(["cancel", rejected.id.uuidString, "--reason", "enough", "--json"])
            #expect(cancel.status == 0, "\(cancel)")
            let twice = try await cli.run(["cancel", rejected.id.uuidString])
            #expect(twice.status == 1)
        }
    }

    @Test("apply --dry-run, apply, clusters and cluster show; a refused manifest lists every problem", arguments: CLIMode.allCases)
    func manifests(mode: CLIMode) async throws {
        try await CLIFixture.with(mode) { cli in
            let demo = TestEnvironment.repositoryRoot.appendingPathComponent("examples/demo.yaml").path
            let dry = try await cli.run(["apply", "-f", demo, "--dry-run"])
            #expect(dry.status == 0, "\(dry)")
            #expect(dry.stdout.contains("dry run: would enqueue cluster.provision"))
            let applied = try await cli.run(["apply", "-f", demo, "--json"])
            #expect(applied.status == 0, "\(applied)")
            let report = try #require(try json(applied) as? [String: Any])
            #expect(report["created"] as? Bool == true)
            let twice = try await cli.run(["apply", "-f", demo])
            #expect(twice.stdout.contains("already enqueued"), "\(twice)")
            // A different manifest for the cluster while its provisioning is unfinished is refused.
            let text = try String(contentsOfFile: demo, encoding: .utf8).replacingOccurrences(of: "replicas: 2", with: "replicas: 3")
            let changed = TestEnvironment.temporaryPath("demo-3.yaml")
            try text.write(toFile: changed, atomically: true, encoding: .utf8)
            let refused = try await cli.run(["apply", "-f", changed])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stdout.contains("name: cluster demo has an unfinished cluster.provision run"), "\(refused.stdout)")
            #expect(refused.stderr.contains("1 problem; nothing was enqueued"), "\(refused.stderr)")
            let refusedJSON = try await cli.run(["apply", "-f", changed, "--json"])
            #expect(refusedJSON.status == 1)
            #expect((try json(refusedJSON) as? [String: Any])?["valid"] as? Bool == false)
            let clusters = try await cli.run(["clusters"])
            #expect(clusters.stdout == "no clusters (kaji apply -f cluster.yaml creates one)\n", "\(clusters)")
            let missing = try await cli.run(["cluster", "show", "demo"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no cluster named 'demo'"), "\(missing.stderr)")
        }
    }
}

/// Through the server and on the database, byte for byte.
@Suite("The kaji CLI prints the same through kaji serve as on the database", .needsDatabase, .timeLimit(.minutes(3)))
struct CLISameOutputTests {
    @Test("show, runs, audit, schedule list, token list, secret list and clusters: the same stdout and exit code")
    func sameOutput() async throws {
        try await CLIFixture.with(.server) { cli in
            let client = cli.client(testRegistry())
            let done = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2}"#, actor: "test"))
            let waiting = try await client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "test"))
            _ = try await client.enqueue(EnqueueRequest(kind: "diag.steps", queue: "later", actor: "test"))
            let pool = cli.db.startPool(testRegistry())
            try await cli.db.waitForFinish(done.id)
            try await eventually("the approval run waits") { try await client.runSummary(id: waiting.id).state == .waiting }
            try await pool.stop()
            _ = try await client.addSchedule(ScheduleRequest(name: "nightly", cron: "0 3 * * *", kind: "diag.steps", actor: "test"))
            let commands: [[String]] = [
                ["show", done.id.uuidString], ["show", done.id.uuidString, "--json"], ["show", waiting.id.uuidString],
                ["runs"], ["runs", "--json"], ["runs", "--limit", "1"], ["runs", "--queue", "later", "--json"],
                ["audit"], ["audit", "--json"], ["audit", "--run", done.id.uuidString],
                ["schedule", "list"], ["schedule", "list", "--json"], ["token", "list", "--json"], ["secret", "list"],
                ["clusters"], ["clusters", "--json"], ["show", UUID().uuidString], ["cluster", "show", "nope"],
            ]
            for command in commands {
                let through = try await cli.run(command)
                let direct = try await KajiProcess.run(command + cli.db.cliArguments, environment: ["KAJI_SERVER": "", "KAJI_TOKEN": ""])
                #expect(through.status == direct.status, "\(command): exit \(through.status) through the server, \(direct.status) on the database")
                #expect(through.stdout == direct.stdout, "\(command):\n--- through the server\n\(through.stdout)\n--- on the database\n\(direct.stdout)")
                #expect(through.stderr == direct.stderr, "\(command):\n\(through.stderr)\n\(direct.stderr)")
            }
        }
    }
}

@Suite("kaji watch through kaji serve", .needsDatabase, .timeLimit(.minutes(3)))
struct WatchThroughServerTests {
    @Test("the server restarts while kaji watch follows a run: watch reconnects with its last event id, prints nothing twice, exits 0")
    func reconnects() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            let token = try await client.createToken(name: "watcher", role: .viewer, actor: "test").token
            let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "waitSignal": "go"}"#, actor: "test"))
            let pool = db.startPool(testRegistry())
            let first = try await KajiServe.start(on: db)
            let port = try #require(first.baseURL.split(separator: ":").last.map(String.init))
            let watch = try KajiProcess(["watch", run.id.uuidString], environment: ["KAJI_SERVER": first.baseURL, "KAJI_TOKEN": token, "DATABASE_URL": CLIFixture.nowhere])
            try await eventually("watch shows the run waiting for its signal") { watch.stdout.contains("signal:go") }
            #expect(try await first.stop().status == 0)
            // The same address again; the run goes on meanwhile.
            let second = try await KajiServe.start(db.cliArguments + ["--listen", "127.0.0.1:\(port)"])
            try await client.signal(runID: run.id, name: "go", sender: "test")
            let result = try await watch.wait(timeout: .seconds(60))
            _ = try await second.stop()
            try await pool.stop()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("step-2") && result.stdout.hasSuffix("run \(run.id) succeeded\n"), "\(result.stdout)")
            let lines = result.stdout.split(separator: "\n").map { $0.drop { $0 != "]" } }
            #expect(Set(lines).count == lines.count, "no line twice: \(result.stdout)")
            #expect(!result.stdout.contains(token) && !result.stderr.contains(token))
        }
    }
}

/// A file holding `text`, for a command's standard input.
func stdinFile(_ text: String) throws -> String {
    let path = TestEnvironment.temporaryPath("stdin")
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
