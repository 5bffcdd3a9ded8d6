import Engine
import Foundation
import KajiTesting
import Testing

/// Schedules with real `kaji worker` processes and `kaji schedule` (moved from EngineTests' ScheduleTests).
@Suite("Schedules across worker processes and the CLI", .timeLimit(.minutes(5)), .needsDatabase)
struct ScheduleProcessTests {
    @Test("a tick every 2 s across 3 worker processes: exactly one run per tick, each run finishes")
    func threeWorkers() async throws {
        try await TestDatabase.with { db in
            let add = try await KajiProcess.run(["schedule", "add", "tick", "--cron", "*/2 * * * * *", "--kind", "diag.steps",
                                                 "--input", #"{"steps": 1}"#, "--json"] + db.cliArguments)
            #expect(add.status == 0, "stderr: \(add.stderr)")
            let workers = try (1...3).map { try db.spawnWorker(concurrency: 4, id: "sched-\($0)") }
            try await eventually("5 ticks are enqueued", timeout: .seconds(60)) {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE idempotency_key LIKE 'schedule:tick:%'") >= 5
            }
            let pause = try await KajiProcess.run(["schedule", "pause", "tick"] + db.cliArguments)
            #expect(pause.status == 0)
            try await eventually("every scheduled run finishes") {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state <> 'succeeded'") == 0
            }
            for w in workers { w.signal(SIGTERM) }
            for w in workers { #expect(try await w.wait(timeout: .seconds(30)).status == 0) }

            let runs = try await db.scalarInt("SELECT count(*)::int8 FROM runs")
            let ticks = try await db.scalarInt("SELECT count(DISTINCT idempotency_key)::int8 FROM runs")
            #expect(runs == ticks, "one run per tick")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'run.enqueued' AND actor = 'schedule:tick'") == runs)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'schedule.ticked' AND (detail->>'created')::bool") == runs,
                    "each tick was enqueued by exactly one worker")
            // Every tick is on an even second.
            #expect(try await db.scalarInt("""
                SELECT count(*)::int8 FROM runs WHERE (substring(idempotency_key from 'schedule:tick:(.*)$'))::timestamptz
                    <> date_trunc('second', (substring(idempotency_key from 'schedule:tick:(.*)$'))::timestamptz)
                    OR extract(second FROM (substring(idempotency_key from 'schedule:tick:(.*)$'))::timestamptz)::int % 2 <> 0
                """) == 0)
            let firers = try await db.scalarInt("SELECT count(DISTINCT worker)::int8 FROM audit_events WHERE type = 'schedule.ticked'")
            #expect(firers >= 1)
        }
    }

    @Test("ticks missed while no worker ran are enqueued once, as the latest due tick, and the schedule moves past now")
    func missedTicksOnce() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            _ = try await client.addSchedule(ScheduleRequest(name: "daily", cron: "0 0 * * *", kind: "diag.steps", input: #"{"steps": 1}"#, actor: "test"))
            // Ten days of downtime: eleven midnights are due.
            try await db.store.client.query("UPDATE schedules SET next_run_at = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '10 days'", logger: db.logger)
            let workers = try (1...3).map { try db.spawnWorker(concurrency: 2, id: "late-\($0)") }
            try await eventually("the missed ticks are enqueued") {
                try await db.scalarInt("SELECT count(*)::int8 FROM runs") >= 1
            }
            try await Task.sleep(for: .seconds(3))   // every worker has had its maintenance rounds
            for w in workers { w.signal(SIGTERM) }
            for w in workers { _ = try await w.wait(timeout: .seconds(30)) }

            let runs = try await db.store.listRuns()
            #expect(runs.count == 1, "11 missed ticks enqueue one run, got \(runs.count)")
            let schedule = try #require(try await db.store.schedule(name: "daily"))
            let tick = try #require(schedule.lastTickAt)
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = .gmt
            #expect(tick == utc.startOfDay(for: Date()), "the run stands for the latest due tick, today's midnight")
            #expect(schedule.nextRunAt == utc.date(byAdding: .day, value: 1, to: tick))
            #expect(runs.first?.idempotencyKey == Schedule.idempotencyKey(name: "daily", tick: tick))
            let ticked = try await db.store.auditEvents(AuditFilter(type: "schedule.ticked"))
            #expect(ticked.count == 1)
            #expect(ticked.first?.detail?.contains("dueSince") == true)
        }
    }

    @Test("kaji schedule: add checks kind and input (exit 2, nothing stored); list, pause, resume, remove are audited")
    func cli() async throws {
        try await TestDatabase.with { db in
            let unknown = try await KajiProcess.run(["schedule", "add", "x", "--cron", "0 3 * * *", "--kind", "no.such"] + db.cliArguments)
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("unknown workflow kind 'no.such'"))
            let badInput = try await KajiProcess.run(["schedule", "add", "x", "--cron", "0 3 * * *", "--kind", "diag.steps", "--input", #"{"steps": "x"}"#] + db.cliArguments)
            #expect(badInput.status == 2)
            #expect(badInput.stderr.contains("'steps'"))
            let badCron = try await KajiProcess.run(["schedule", "add", "x", "--cron", "0 25 * * *", "--kind", "diag.steps"] + db.cliArguments)
            #expect(badCron.status == 2)
            #expect(badCron.stderr.contains("hour"))
            let badZone = try await KajiProcess.run(["schedule", "add", "x", "--cron", "0 3 * * *", "--timezone", "Asia/Atlantis", "--kind", "diag.steps"] + db.cliArguments)
            #expect(badZone.status == 2)
            #expect(badZone.stderr.contains("--timezone"))
            #expect(try await db.store.listSchedules().isEmpty)

            let add = try await KajiProcess.run(["schedule", "add", "nightly-backup", "--cron", "0 3 * * *", "--timezone", "Asia/Tokyo", "--kind", "diag.steps",
                                                 "--input", #"{"steps": 2}"#, "--json"] + db.cliArguments)
            #expect(add.status == 0, "stderr: \(add.stderr)")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(add.stdout.utf8)) as? [String: Any])
            #expect(doc["cron"] as? String == "0 3 * * *")
            #expect((doc["input"] as? [String: Any])?["steps"] as? Int == 2)
            let next = try #require((doc["nextRunAt"] as? String).flatMap(KajiJSON.parseDate))
            #expect(Calendar(identifier: .gregorian).dateComponents(in: try #require(TimeZone(identifier: "Asia/Tokyo")), from: next).hour == 3)
            let twice = try await KajiProcess.run(["schedule", "add", "nightly-backup", "--cron", "0 3 * * *", "--kind", "diag.steps"] + db.cliArguments)
            #expect(twice.status == 1)
            #expect(twice.stderr.contains("exists already"))

            #expect(try await KajiProcess.run(["schedule", "pause", "nightly-backup"] + db.cliArguments).status == 0)
            let list = try await KajiProcess.run(["schedule", "list", "--json"] + db.cliArguments)
            let schedules = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            #expect(schedules.count == 1)
            #expect(schedules.first?["paused"] as? Bool == true)
            #expect(try await KajiProcess.run(["schedule", "resume", "nightly-backup"] + db.cliArguments).status == 0)
            #expect(try await KajiProcess.run(["schedule", "remove", "nightly-backup"] + db.cliArguments).status == 0)
            let missing = try await KajiProcess.run(["schedule", "remove", "nightly-backup"] + db.cliArguments)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no schedule named 'nightly-backup'"))

            let events = try await db.store.auditEvents(AuditFilter())
            #expect(events.map(\.type) == ["schedule.added", "schedule.paused", "schedule.resumed", "schedule.removed"])
            #expect(events.allSatisfy { $0.actor.hasPrefix("cli:") })
        }
    }
}
