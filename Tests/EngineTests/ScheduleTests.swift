import Engine
import Foundation
import KajiTesting
import Testing

/// Cron parsing and next-tick computation, without a database.
@Suite("Cron expressions")
struct CronTests {
    static func date(_ text: String) throws -> Date { try #require(KajiJSON.parseDate(text)) }
    static func zone(_ name: String) throws -> TimeZone { try #require(TimeZone(identifier: name)) }

    @Test("parse errors name the field and what is allowed; exit-2 code")
    func parseErrors() throws {
        for (text, needle) in [("0 3 * *", "4 fields"), ("61 * * * *", "minute field '61'"), ("* 24 * * *", "hour field"),
                               ("* * 0 * *", "day of month"), ("* * * 13 *", "month field"), ("* * * * MOO", "day of week field 'MOO'"),
                               ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"), ("@fortnightly", "unknown macro"),
                               ("0 0 30 2 *", "never fires")] {
            do {
                _ = try CronExpression(text)
                Issue.record("'\(text)' should not parse")
            } catch let error as KajiError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains(needle), "'\(text)': \(error.message)")
                #expect(!error.message.contains("--cron"), "the grammar names no caller's option: \(error.message)")
            }
        }
        #expect(throws: KajiError.self) { try CronExpression.timeZone("Mars/Olympus") }
        // Each caller names its own option or field.
        #expect(throws: KajiError(.invalidArgument, "--cron '61 * * * *': minute field '61' has 61 out of range (allowed: 0-59, *, a-b, */n, lists a,b)")) {
            try CronExpression.parse("61 * * * *", as: "--cron")
        }
        #expect(throws: KajiError(.invalidArgument, "--timezone 'Mars/Olympus' is not an IANA time zone name (e.g. UTC, Asia/Tokyo, Europe/Berlin)")) {
            try CronExpression.timeZone("Mars/Olympus", as: "--timezone")
        }
    }

    @Test("next ticks: daily in Asia/Tokyo, steps, lists, names, macros, seconds")
    func nextTicks() throws {
        let start = try Self.date("2026-11-26T20:00:00Z")
        let tokyo = try Self.zone("Asia/Tokyo")
        #expect(try CronExpression("0 3 * * *").next(after: start, in: tokyo) == Self.date("2026-11-27T18:00:00Z"))
        #expect(try CronExpression("0 3 * * *").next(after: start) == Self.date("2026-11-27T03:00:00Z"))
        #expect(try CronExpression("*/15 * * * *").next(after: start) == Self.date("2026-11-26T20:15:00Z"))
        #expect(try CronExpression("5,35 9-17/4 * * *").next(after: start) == Self.date("2026-11-27T09:05:00Z"))
        #expect(try CronExpression("0 9 * * MON-FRI").next(after: try Self.date("2026-11-27T10:00:00Z")) == Self.date("2026-11-30T09:00:00Z"), "Friday 10:00 -> Monday")
        #expect(try CronExpression("0 0 1 JAN,jul *").next(after: start) == Self.date("2027-01-01T00:00:00Z"))
        #expect(try CronExpression("@monthly").next(after: start) == Self.date("2026-12-01T00:00:00Z"))
        #expect(try CronExpression("0 0 * * 7").next(after: start) == Self.date("2026-11-29T00:00:00Z"), "7 is Sunday")
        #expect(try CronExpression("*/10 * * * * *").next(after: try Self.date("2026-11-26T20:00:03.5Z")) == Self.date("2026-11-26T20:00:10Z"))
        #expect(try CronExpression("0 0 29 2 *").next(after: start) == Self.date("2028-02-29T00:00:00Z"), "skips to the next leap day")
        // Strictly after: a tick exactly at `after` is not returned.
        #expect(try CronExpression("0 * * * *").next(after: try Self.date("2026-11-26T20:00:00Z")) == Self.date("2026-11-26T21:00:00Z"))
    }

    @Test("day of month and day of week: either matches when both are restricted, as in cron")
    func domDowOrRule() throws {
        let cron = try CronExpression("0 0 13 * FRI")
        var ticks: [Date] = []
        var t = try Self.date("2026-11-01T00:00:00Z")
        for _ in 0..<6 {
            t = try #require(cron.next(after: t))
            ticks.append(t)
        }
        // Fridays of Nov 2026: 6, 13, 20, 27; the 13th is also a Friday; then Dec 4, 11, 13.
        #expect(ticks == (try ["2026-11-06", "2026-11-13", "2026-11-20", "2026-11-27", "2026-12-04", "2026-12-11"].map { try Self.date($0 + "T00:00:00Z") }))
        #expect(try CronExpression("0 0 13 * *").next(after: try Self.date("2026-11-14T00:00:00Z")) == Self.date("2026-12-13T00:00:00Z"))
        #expect(try CronExpression("0 0 * * FRI").next(after: try Self.date("2026-11-14T00:00:00Z")) == Self.date("2026-11-20T00:00:00Z"))
    }

    @Test("DST: a skipped time fires shifted by the gap, a repeated time fires once")
    func daylightSaving() throws {
        let ny = try Self.zone("America/New_York")
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist: fires at 03:30 EDT (07:30Z).
        let daily = try CronExpression("30 2 * * *")
        #expect(daily.next(after: try Self.date("2026-03-07T12:00:00Z"), in: ny) == (try Self.date("2026-03-08T07:30:00Z")))
        #expect(daily.next(after: try Self.date("2026-03-08T07:30:00Z"), in: ny) == (try Self.date("2026-03-09T06:30:00Z")))
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST. 01:30 happens twice: fires at the first (05:30Z) only.
        let fallback = try CronExpression("30 1 * * *")
        #expect(fallback.next(after: try Self.date("2026-10-31T12:00:00Z"), in: ny) == (try Self.date("2026-11-01T05:30:00Z")))
        #expect(fallback.next(after: try Self.date("2026-11-01T05:30:00Z"), in: ny) == (try Self.date("2026-11-02T06:30:00Z")))
        // Every 15 minutes (hour field *) through both changes: a regular interval in absolute time, as in cron.
        let quarter = try CronExpression("*/15 * * * *")
        for start in ["2026-03-08T05:00:00Z", "2026-11-01T04:00:00Z"] {
            var t = try Self.date(start)
            for _ in 0..<16 {
                // (start is on a quarter hour)
                let n = try #require(quarter.next(after: t, in: ny))
                #expect(n.timeIntervalSince(t) == 900, "\(t) -> \(n)")
                t = n
            }
        }
    }

    @Test("missed ticks collapse into the latest due one, found without walking every tick")
    func latestTick() throws {
        let everySecond = try CronExpression("* * * * * *")
        let first = try Self.date("2026-01-01T00:00:00Z")
        let now = try Self.date("2026-11-26T20:00:00.5Z")
        let clock = ContinuousClock()
        let started = clock.now
        #expect(everySecond.latestTick(from: first, notAfter: now) == (try Self.date("2026-11-26T20:00:00Z")))
        #expect(clock.now - started < .seconds(2), "a year of per-second ticks is skipped, not walked")
        let nightly = try CronExpression("0 3 * * *")
        #expect(nightly.latestTick(from: try Self.date("2026-11-20T03:00:00Z"), notAfter: now) == (try Self.date("2026-11-26T03:00:00Z")))
        #expect(nightly.latestTick(from: try Self.date("2026-11-26T03:00:00Z"), notAfter: now) == (try Self.date("2026-11-26T03:00:00Z")))
    }
}

/// Schedules against real PostgreSQL and real `kaji worker` processes.
@Suite("Schedules", .timeLimit(.minutes(5)), .needsDatabase)
struct ScheduleTests {
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

    @Test("20 concurrent maintenance rounds on one due tick enqueue one run")
    func concurrentRounds() async throws {
        try await TestDatabase.with(maxConnections: 30) { db in
            _ = try await db.client(testRegistry()).addSchedule(ScheduleRequest(name: "race", cron: "0 3 * * *", timezone: "Asia/Tokyo", kind: "diag.steps", concurrencyKey: "cluster:prod-a", actor: "test"))
            try await db.store.client.query("UPDATE schedules SET next_run_at = now() - interval '1 second'", logger: db.logger)
            let store = db.store
            let firings = try await withThrowingTaskGroup(of: [ScheduleFiring].self) { group in
                for i in 0..<20 { group.addTask { try await store.enqueueDueSchedules(actor: "worker:w\(i)", worker: "w\(i)") } }
                var all: [ScheduleFiring] = []
                for try await f in group { all += f }
                return all
            }
            #expect(firings.filter(\.created).count == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE concurrency_key = 'cluster:prod-a' AND actor = 'schedule:race'") == 1,
                    "the run carries the schedule's concurrency key, enqueued as the schedule")
            let schedule = try #require(try await db.store.schedule(name: "race"))
            #expect(schedule.nextRunAt > Date())
        }
    }

    @Test("a worker that died between enqueueing a tick and moving the schedule on: the next round finds the tick's run, no second one")
    func crashBetweenEnqueueAndUpdate() async throws {
        try await TestDatabase.with { db in
            _ = try await db.client(testRegistry()).addSchedule(ScheduleRequest(name: "nightly", cron: "0 3 * * *", kind: "diag.steps", actor: "test"))
            try await db.store.client.query("UPDATE schedules SET next_run_at = date_trunc('second', now()) - interval '5 seconds'", logger: db.logger)
            let schedule = try #require(try await db.store.schedule(name: "nightly"))
            // What the dead worker managed to do: the tick's run exists, the schedule was not moved on.
            let first = try await db.store.enqueue(EnqueueRequest(kind: "diag.steps", idempotencyKey: Schedule.idempotencyKey(name: "nightly", tick: schedule.nextRunAt),
                                                                  actor: "schedule:nightly"), maxAttempts: 1)
            let firings = try await db.store.enqueueDueSchedules(actor: "worker:next", worker: "next")
            #expect(firings.count == 1)
            #expect(firings.first?.runID == first.id)
            #expect(firings.first?.created == false)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs") == 1)
            #expect(try #require(try await db.store.schedule(name: "nightly")).nextRunAt > Date())
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
            #expect(Calendar(identifier: .gregorian).dateComponents(in: try CronTests.zone("Asia/Tokyo"), from: next).hour == 3)
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
