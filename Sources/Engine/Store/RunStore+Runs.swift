import Foundation
import PostgresNIO

extension RunStore {
    private static let runColumns = "id, kind, state, queue, priority, attempt, max_attempts, epoch, lease_owner, idempotency_key, concurrency_key, actor, cancel_requested_by, cancel_reason, created_at, run_at, started_at, finished_at, last_error"

    private typealias RunRow = (UUID, String, String, String, Int, Int, Int, Int64, String?, String?, String?, String, String?, String?, Date, Date, Date?, Date?, String?)

    private static func summary(_ row: RunRow) throws -> RunSummary {
        RunSummary(id: row.0, kind: row.1, state: try RunState.stored(row.2, column: "runs.state"), queue: row.3, priority: row.4,
                   attempt: row.5, maxAttempts: row.6, epoch: row.7, leaseOwner: row.8, idempotencyKey: row.9, concurrencyKey: row.10,
                   actor: row.11, cancelRequestedBy: row.12, cancelReason: row.13,
                   createdAt: row.14, runAt: row.15, startedAt: row.16, finishedAt: row.17, lastError: row.18)
    }

    /// One run, or nil when there is none with that id.
    package func run(id: UUID) async throws -> RunSummary? {
        let query: PostgresQuery = "SELECT \(unescaped: Self.runColumns) FROM runs WHERE id = \(id)"
        for try await row in try await client.query(query, logger: logger).decode(RunRow.self) { return try Self.summary(row) }
        return nil
    }

    /// The newest runs first (ids are time-ordered UUIDv7), optionally filtered by state, kind, queue,
    /// concurrency key and the actor who enqueued them; with `before`, only runs whose id sorts below it (the
    /// next page of a walk: the order is the ids', so pages never repeat or skip a run that existed when the
    /// walk began, however many runs are enqueued meanwhile).
    package func listRuns(state: RunState? = nil, kind: String? = nil, queue: String? = nil, concurrencyKey: String? = nil,
                          actor: String? = nil, before: UUID? = nil, limit: Int = 50) async throws -> [RunSummary] {
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.runColumns) FROM runs
            WHERE (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue)) AND (\(kind)::text IS NULL OR kind = \(kind))
              AND (\(queue)::text IS NULL OR queue = \(queue)) AND (\(concurrencyKey)::text IS NULL OR concurrency_key = \(concurrencyKey))
              AND (\(actor)::text IS NULL OR actor = \(actor)) AND (\(before)::uuid IS NULL OR id < \(before))
            ORDER BY id DESC LIMIT \(limit)
            """
        var runs: [RunSummary] = []
        for try await row in try await client.query(query, logger: logger).decode(RunRow.self) { runs.append(try Self.summary(row)) }
        return runs
    }

    /// How many runs are in each state.
    package func countRuns() async throws -> [RunState: Int] {
        var counts: [RunState: Int] = [:]
        for try await (state, n) in try await client.query("SELECT state, count(*) FROM runs GROUP BY state", logger: logger).decode((String, Int).self) {
            counts[try RunState.stored(state, column: "runs.state")] = n
        }
        return counts
    }

    /// A run with its payloads, each step with every attempt, and its audit events.
    package func runDetail(id: UUID) async throws -> RunDetail? {
        guard let run = try await run(id: id) else { return nil }
        var input = "{}"
        var output: String?
        for try await (i, o) in try await client.query("SELECT input::text, output::text FROM run_payloads WHERE run_id = \(id)", logger: logger).decode((String, String?).self) {
            input = i
            output = o
        }
        let steps = try await stepRecords(runID: id)
        let events = try await auditEvents(runID: id)
        return RunDetail(run: run, input: input, output: output, steps: steps, events: events)
    }

    /// The steps of a run with every attempt (only those named in `names` when given), by start time.
    package func stepRecords(runID id: UUID, names: [String]? = nil) async throws -> [StepRecord] {
        var history: [String: [StepAttemptRecord]] = [:]
        let attemptRows = try await client.query("""
            SELECT step, attempt, epoch, worker, outcome, error, started_at, finished_at
            FROM step_attempts WHERE run_id = \(id) AND (\(names)::text[] IS NULL OR step = ANY(\(names)::text[])) ORDER BY started_at, attempt
            """, logger: logger)
        for try await (step, attempt, epoch, worker, outcome, error, started, finished) in attemptRows.decode((String, Int, Int64, String?, String, String?, Date, Date).self) {
            history[step, default: []].append(StepAttemptRecord(attempt: attempt, epoch: epoch, worker: worker, attemptOutcome: try StepAttemptOutcome.stored(outcome, column: "step_attempts.outcome"), error: error,
                                                                startedAt: started, finishedAt: finished, durationMs: finished.timeIntervalSince(started) * 1000))
        }
        var steps: [StepRecord] = []
        let stepRows = try await client.query("""
            SELECT name, state, attempts, epoch, worker, started_at, finished_at, error, result::text, wait::text
            FROM steps WHERE run_id = \(id) AND (\(names)::text[] IS NULL OR name = ANY(\(names)::text[])) ORDER BY started_at NULLS LAST, name
            """, logger: logger)
        for try await (name, state, attempts, epoch, worker, started, finished, error, result, wait) in stepRows.decode((String, String, Int, Int64, String?, Date?, Date?, String?, String?, String?).self) {
            let duration = started.flatMap { s in finished.map { $0.timeIntervalSince(s) * 1000 } }
            steps.append(StepRecord(name: name, state: try StepState.stored(state, column: "steps.state"), attempts: attempts, epoch: epoch, worker: worker,
                                    startedAt: started, finishedAt: finished, durationMs: duration, error: error, result: result, wait: wait,
                                    history: history[name] ?? []))
        }
        return steps
    }

    /// The unfinished runs (see `RunState.isFinished`) carrying concurrency key `key`, oldest first.
    package func unfinishedRuns(concurrencyKey key: String) async throws -> [RunSummary] {
        let unfinished = RunState.allCases.filter { !$0.isFinished }.map(\.rawValue)
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.runColumns) FROM runs
            WHERE concurrency_key = \(key) AND state = ANY(\(unfinished)::text[])
            ORDER BY id
            """
        var runs: [RunSummary] = []
        for try await row in try await client.query(query, logger: logger).decode(RunRow.self) { runs.append(try Self.summary(row)) }
        return runs
    }
}
