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
}
