import Foundation
import PostgresNIO

/// What a prune removed.
public struct PruneResult: Sendable, Codable, Equatable {
    /// Runs deleted (with their payloads, steps, attempts and anything else that cascades from runs).
    public var runs: Int
    /// Statements (batches) it took.
    public var batches: Int
    /// Runs that finished before this time were eligible.
    public var cutoff: Date
}

/// How long finished runs are kept: parsed from `90d`, `12h`, `30m`, `45s` (or combinations like `1d12h`).
public enum RetentionAge {
    /// Parses an age. Errors (`invalidArgument`) name the field `option` (the caller's name for the value) and
    /// show the accepted forms.
    public static func parse(_ text: String, option: String = "olderThan") throws -> Duration {
        let units: [Character: Int64] = ["d": 86400, "h": 3600, "m": 60, "s": 1]
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for ch in text.trimmingCharacters(in: .whitespaces).lowercased() {
            if ch.isASCII, ch.isNumber {
                number.append(ch)
            } else if let unit = units[ch], let n = Int64(number), n <= 1_000_000 {
                total += n * unit
                number = ""
                sawUnit = true
            } else {
                throw KajiError(.invalidArgument, "\(option) '\(text)' is not an age: use a number and a unit d, h, m or s (e.g. 30d, 12h, 30m)", field: option)
            }
        }
        guard number.isEmpty, sawUnit, total > 0 else {
            throw KajiError(.invalidArgument, "\(option) '\(text)' is not an age: use a number and a unit d, h, m or s (e.g. 30d, 12h, 30m)", field: option)
        }
        return .seconds(total)
    }

    /// How long an idempotency key keeps answering with its run: 24 hours after the run was enqueued.
    /// Enqueueing with the same key returns the existing run for as long as that run exists, so retention
    /// never removes a run that carries an idempotency key before this window has passed, whatever
    /// `--older-than` says: a retried request within the window (a chat retry, a re-sent API call, the same
    /// manifest applied again) finds its run instead of starting the operation a second time.
    public static let idempotencyWindow: Duration = .seconds(24 * 3600)

    /// `KAJI_RETENTION` (e.g. `30d`), or nil when it is unset or empty (retention off, the default).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration? {
        guard let text = environment["KAJI_RETENTION"], !text.isEmpty else { return nil }
        return try parse(text, option: "KAJI_RETENTION")
    }
}

extension RunStore {
    /// Deletes runs that ended (`succeeded`, `failed`, `cancelled`) more than `age` ago, `batchSize` per
    /// statement (default 500) and at most `maxBatches` statements (default: until none is left), each its
    /// own short transaction, so that neither the claim path nor other workers wait on it.
    ///
    /// Two kinds of runs are kept whatever their age: runs that `run_retention_holds` names (a failed or
    /// cancelled run that a cluster's inventory points to as its last operation: it is how the cluster is
    /// recovered), and runs with an idempotency key enqueued less than `idempotencyWindow` ago (default
    /// `RetentionAge.idempotencyWindow`, 24 hours), so that their key still finds them. Their payloads,
    /// steps and step attempts go with them (foreign keys cascade); their audit events stay. Each batch is
    /// audited as `runs.pruned` with its count. Safe from many workers at once (`SKIP LOCKED`).
    ///
    /// Needs no index of its own: run ids are UUIDv7 (`RunID`), so the runs created before the cutoff, the
    /// only ones that can have finished before it, are a range at the start of the primary key.
    @discardableResult
    package func pruneFinishedRuns(olderThan age: Duration, actor: String, batchSize: Int = 500, maxBatches: Int = .max,
                                  idempotencyWindow: Duration = RetentionAge.idempotencyWindow) async throws -> PruneResult {
        let seconds = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
        let windowSeconds = Double(idempotencyWindow.components.seconds) + Double(idempotencyWindow.components.attoseconds) / 1e18
        guard let cutoff = try await scalar("SELECT now() - make_interval(secs => \(seconds))", as: Date.self) else {
            throw KajiError(.databaseUnavailable, "the database returned no time")
        }
        var result = PruneResult(runs: 0, batches: 0, cutoff: cutoff)
        // The smallest UUIDv7 of the cutoff's millisecond: every run created earlier sorts below it.
        let bound = RunID.lowerBound(at: cutoff)
        let ageText = "\(Int64(seconds))s"
        while result.batches < maxBatches {
            let query: PostgresQuery = """
                WITH doomed AS (
                    SELECT id FROM runs
                    WHERE id < \(bound) AND state IN ('succeeded', 'failed', 'cancelled') AND finished_at < \(cutoff)
                      AND (idempotency_key IS NULL OR created_at < now() - make_interval(secs => \(windowSeconds)))
                      AND NOT EXISTS (SELECT 1 FROM run_retention_holds AS h WHERE h.run_id = runs.id)
                    ORDER BY id
                    LIMIT \(batchSize)
                    FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM runs AS r USING doomed WHERE r.id = doomed.id RETURNING r.id
                ), audit AS (
                    INSERT INTO audit_events (type, actor, detail)
                    SELECT \(literal: AuditEventType.runsPruned), \(actor), jsonb_build_object('count', n, 'finishedBefore', \(KajiJSON.format(cutoff))::text, 'olderThan', \(ageText)::text)
                    FROM (SELECT count(*) AS n FROM gone) AS c WHERE n > 0
                )
                SELECT count(*) FROM gone
                """
            let deleted = try await count(query)
            if deleted == 0 { break }
            result.runs += deleted
            result.batches += 1
            if deleted < batchSize { break }
        }
        return result
    }
}
