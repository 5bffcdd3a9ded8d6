import Foundation
import PostgresNIO

extension RunStore {
    private static let scheduleColumns = "name, cron, timezone, kind, input::text, queue, priority, concurrency_key, max_attempts, paused, next_run_at, last_tick_at, last_run_id, created_by, created_at, updated_at"

    private typealias ScheduleRow = (String, String, String, String, String, String, Int, String?, Int, Bool, Date, Date?, UUID?, String, Date, Date)

    private static func schedule(_ r: ScheduleRow) -> Schedule {
        Schedule(name: r.0, cron: r.1, timezone: r.2, kind: r.3, input: r.4, queue: r.5, priority: r.6, concurrencyKey: r.7, maxAttempts: r.8,
                 paused: r.9, nextRunAt: r.10, lastTickAt: r.11, lastRunId: r.12, createdBy: r.13, createdAt: r.14, updatedAt: r.15)
    }

    /// Creates a schedule whose first tick is the cron's next one after now. The request must already be
    /// validated (see `KajiClient.addSchedule`). Fails (`invalidState`) when the name is taken.
    package func addSchedule(_ request: ScheduleRequest, maxAttempts: Int) async throws -> Schedule {
        let cron = try CronExpression.parse(request.cron, as: "cron")
        let zone = try CronExpression.timeZone(request.timezone)
        let now = try await databaseNow()
        guard let first = cron.next(after: now, in: zone) else {
            throw KajiError(.invalidArgument, "cron '\(request.cron)' never fires in the next 30 years")
        }
        let query: PostgresQuery = """
            WITH ins AS (
                INSERT INTO schedules (name, cron, timezone, kind, input, queue, priority, concurrency_key, max_attempts, next_run_at, created_by)
                VALUES (\(request.name), \(cron.text), \(request.timezone), \(request.kind), \(request.input)::text::jsonb, \(request.queue),
                        \(request.priority), \(request.concurrencyKey), \(maxAttempts), \(first), \(request.actor))
                ON CONFLICT (name) DO NOTHING
                RETURNING \(unescaped: Self.scheduleColumns)
            ), audit AS (
                INSERT INTO audit_events (type, actor, detail)
                SELECT \(literal: AuditEventType.scheduleAdded), \(request.actor),
                       jsonb_build_object('schedule', name, 'cron', cron, 'timezone', timezone, 'kind', kind, 'queue', queue, 'nextRunAt', \(KajiJSON.format(first))::text)
                FROM ins
            )
            SELECT * FROM ins
            """
        for try await row in try await client.query(query, logger: logger).decode(ScheduleRow.self) { return Self.schedule(row) }
        throw KajiError(.invalidState, "a schedule named '\(request.name)' exists already: remove it first (kaji schedule remove \(request.name))")
    }

    /// Every schedule, by name.
    package func listSchedules() async throws -> [Schedule] {
        var result: [Schedule] = []
        let rows = try await client.query("SELECT \(unescaped: Self.scheduleColumns) FROM schedules ORDER BY name", logger: logger)
        for try await row in rows.decode(ScheduleRow.self) { result.append(Self.schedule(row)) }
        return result
    }

    /// One schedule, or nil.
    package func schedule(name: String) async throws -> Schedule? {
        let rows = try await client.query("SELECT \(unescaped: Self.scheduleColumns) FROM schedules WHERE name = \(name)", logger: logger)
        for try await row in rows.decode(ScheduleRow.self) { return Self.schedule(row) }
        return nil
    }

    /// Pauses or resumes a schedule. Resuming starts from the cron's next tick after now: ticks that fell
    /// while paused are not enqueued. Fails (`scheduleNotFound`) when there is no such schedule.
    @discardableResult
    package func setSchedulePaused(name: String, paused: Bool, actor: String) async throws -> Schedule {
        guard let current = try await schedule(name: name) else { throw Self.noSchedule(name) }
        var next = current.nextRunAt
        if !paused {
            let cron = try CronExpression.parse(current.cron, as: "cron")
            let zone = try CronExpression.timeZone(current.timezone)
            guard let n = cron.next(after: try await databaseNow(), in: zone) else {
                throw KajiError(.invalidState, "schedule '\(name)' (\(current.cron)) never fires again")
            }
            next = n
        }
        let type: AuditEventType = paused ? .schedulePaused : .scheduleResumed
        let query: PostgresQuery = """
            WITH up AS (
                UPDATE schedules SET paused = \(paused), next_run_at = \(next), updated_at = now() WHERE name = \(name)
                RETURNING \(unescaped: Self.scheduleColumns)
            ), audit AS (
                INSERT INTO audit_events (type, actor, detail)
                SELECT \(literal: type), \(actor), jsonb_build_object('schedule', name, 'nextRunAt', \(KajiJSON.format(next))::text) FROM up
            )
            SELECT * FROM up
            """
        for try await row in try await client.query(query, logger: logger).decode(ScheduleRow.self) { return Self.schedule(row) }
        throw Self.noSchedule(name)
    }

    /// Removes a schedule (runs it enqueued stay). Fails (`scheduleNotFound`) when there is none.
    package func removeSchedule(name: String, actor: String) async throws {
        let query: PostgresQuery = """
            WITH del AS (
                DELETE FROM schedules WHERE name = \(name) RETURNING name, cron, kind
            ), audit AS (
                INSERT INTO audit_events (type, actor, detail)
                SELECT \(literal: AuditEventType.scheduleRemoved), \(actor), jsonb_build_object('schedule', name, 'cron', cron, 'kind', kind) FROM del
            )
            SELECT count(*) FROM del
            """
        guard try await count(query) == 1 else { throw Self.noSchedule(name) }
    }

    private static func noSchedule(_ name: String) -> KajiError {
        KajiError(.scheduleNotFound, "no schedule named '\(name)' (see kaji schedule list)")
    }

    /// The database server's clock (schedules are computed on one clock however many machines run workers).
    func databaseNow() async throws -> Date {
        guard let now = try await scalar("SELECT now()", as: Date.self) else {
            throw KajiError(.databaseUnavailable, "SELECT now() returned nothing")
        }
        return now
    }

    /// Enqueues the due ticks of up to `limit` schedules: one run per schedule per round, for its latest
    /// due tick (ticks missed while no worker ran collapse into that one), then moves the schedule's next
    /// tick past now. Safe from every worker at once: due rows are locked `FOR UPDATE SKIP LOCKED`, and the
    /// run's idempotency key (`schedule:NAME:TICK`) makes a tick's run exist once even if a worker dies
    /// between enqueueing and moving the schedule on.
    @discardableResult
    package func enqueueDueSchedules(actor: String, worker: String? = nil, limit: Int = 20) async throws -> [ScheduleFiring] {
        // The common case, nothing due, costs one indexed read and no transaction.
        let due = try await scalar("SELECT EXISTS (SELECT 1 FROM schedules WHERE NOT paused AND next_run_at <= now())", as: Bool.self) ?? false
        guard due else { return [] }
        return try await inTransactionUnwrapped { connection in
            let due: PostgresQuery = """
                SELECT now(), \(unescaped: Self.scheduleColumns) FROM schedules
                WHERE NOT paused AND next_run_at <= now()
                ORDER BY next_run_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
                """
            var rows: [(Date, Schedule)] = []
            let stream = try await connection.query(due, logger: logger)
            for try await (now, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p) in stream.decode((Date, String, String, String, String, String, String, Int, String?, Int, Bool, Date, Date?, UUID?, String, Date, Date).self) {
                rows.append((now, Self.schedule((a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p))))
            }
            var firings: [ScheduleFiring] = []
            for (now, schedule) in rows {
                let cron: CronExpression
                let zone: TimeZone
                do {
                    cron = try CronExpression.parse(schedule.cron, as: "cron")
                    zone = try CronExpression.timeZone(schedule.timezone)
                } catch {
                    try await pauseBroken(connection, schedule, reason: error.kajiDescription, actor: actor)
                    continue
                }
                let tick = cron.latestTick(from: schedule.nextRunAt, notAfter: now, in: zone)
                let next = cron.next(after: max(now, tick), in: zone)
                let request = EnqueueRequest(kind: schedule.kind, input: schedule.input, queue: schedule.queue, priority: schedule.priority,
                                             idempotencyKey: Schedule.idempotencyKey(name: schedule.name, tick: tick),
                                             concurrencyKey: schedule.concurrencyKey, actor: "schedule:\(schedule.name)")
                // Its own (committed) statement: the key makes a second attempt at this tick return the same run.
                let result = try await enqueue(request, maxAttempts: schedule.maxAttempts)
                let detail: PostgresQuery = """
                    WITH up AS (
                        UPDATE schedules SET next_run_at = coalesce(\(next), next_run_at), paused = paused OR \(next == nil),
                               last_tick_at = \(tick), last_run_id = \(result.id), updated_at = now()
                        WHERE name = \(schedule.name)
                        RETURNING name
                    )
                    INSERT INTO audit_events (run_id, type, actor, worker, detail)
                    SELECT \(result.id), \(literal: AuditEventType.scheduleTicked), \(actor), \(worker), jsonb_build_object(
                        'schedule', name, 'tick', \(KajiJSON.format(tick))::text, 'dueSince', \(KajiJSON.format(schedule.nextRunAt))::text,
                        'created', \(result.created)::bool, 'nextRunAt', \(next.map(KajiJSON.format))::text)
                    FROM up
                    """
                try await connection.query(detail, logger: logger)
                firings.append(ScheduleFiring(schedule: schedule.name, tick: tick, dueSince: schedule.nextRunAt, runID: result.id,
                                              created: result.created, nextRunAt: next))
            }
            return firings
        }
    }

    /// A schedule whose stored cron or zone no longer parses is paused (and audited) rather than retried
    /// every second.
    private func pauseBroken(_ connection: PostgresConnection, _ schedule: Schedule, reason: String, actor: String) async throws {
        logger.error("schedule cannot be read; pausing it", metadata: ["schedule": "\(schedule.name)", "error": "\(reason)"])
        try await connection.query("""
            WITH up AS (UPDATE schedules SET paused = true, updated_at = now() WHERE name = \(schedule.name) RETURNING name)
            INSERT INTO audit_events (type, actor, detail)
            SELECT \(literal: AuditEventType.schedulePaused), \(actor), jsonb_build_object('schedule', name, 'reason', \(reason)::text) FROM up
            """, logger: logger)
    }
}
