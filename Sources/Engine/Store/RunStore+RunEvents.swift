import Foundation
import PostgresNIO

/// What a PostgreSQL snapshot (`pg_current_snapshot()`) tells about committed rows: a row written by a
/// transaction whose id is below `xmax` and not in `inProgress` was visible in it. Transaction ids are the
/// full 64-bit ones (`xid8`), as `audit_events.xid` keeps them.
package struct SnapshotHorizon: Sendable, Equatable {
    package var xmax: UInt64
    /// The transactions still running when the snapshot was taken (below `xmax`), ascending.
    package var inProgress: [UInt64]

    /// A horizon that sees nothing (every transaction id is 3 or more).
    package static let nothing = SnapshotHorizon(xmax: 1, inProgress: [])

    package init(xmax: UInt64, inProgress: [UInt64]) {
        self.xmax = xmax
        self.inProgress = inProgress.sorted()
    }

    /// Parses `pg_snapshot` text, `XMIN:XMAX:XIP,XIP,…`.
    package init?(snapshotText text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, UInt64(parts[0]) != nil, let xmax = UInt64(parts[1]) else { return nil }
        var running: [UInt64] = []
        for part in parts[2].split(separator: ",") {
            guard let xid = UInt64(part) else { return nil }
            running.append(xid)
        }
        self.init(xmax: xmax, inProgress: running)
    }

    /// Whether a row written by transaction `xid` (committed) was visible in this snapshot.
    package func sees(_ xid: UInt64) -> Bool { xid < xmax && !inProgress.contains(xid) }
}

/// One reading of a run's events for a follower (`RunStore.runEventRound`).
package struct RunEventRound: Sendable {
    /// The snapshot the reading was made in.
    package var snapshot: SnapshotHorizon
    /// The run's state in that snapshot; nil when there is no such run.
    package var state: RunState?
    /// The events the follower had not seen, with their transaction ids, by id.
    package var events: [(event: AuditEvent, xid: UInt64)]
}

extension RunStore {
    /// The audit events of run `runID` that a follower has not seen yet, read in one statement together with
    /// the run's state and the statement's snapshot. The follower has seen every event visible in `seen`,
    /// and those visible in `partly` with an id up to `partlyUpTo` (pass `.nothing` and 0 for none).
    ///
    /// Audit ids come from a sequence and transactions commit in any order, so a follower that only
    /// remembered the last id could miss an event with a smaller id committed later. Visibility in a
    /// snapshot, judged by the writer's transaction id (`audit_events.xid`), is exact: every event the
    /// follower was shown was visible in a snapshot it was shown from, and every event not visible there is
    /// one it has not seen. The events' index on `(run_id, id)` bounds the work to the run's own events.
    package func runEventRound(runID: UUID, seen: SnapshotHorizon, partly: SnapshotHorizon, partlyUpTo: Int64) async throws -> RunEventRound {
        let seenXmax = String(seen.xmax), seenRunning = seen.inProgress.map(String.init)
        let partlyXmax = String(partly.xmax), partlyRunning = partly.inProgress.map(String.init)
        let query: PostgresQuery = """
            WITH snap AS (SELECT pg_current_snapshot()::text AS s), r AS (SELECT state FROM runs WHERE id = \(runID))
            SELECT snap.s, r.state, e.xid::text, e.id, e.at, e.run_id, e.type, e.actor, e.step, e.attempt, e.epoch, e.worker, e.detail::text
            FROM snap LEFT JOIN r ON true
            LEFT JOIN audit_events AS e ON e.run_id = \(runID)
              AND NOT (e.xid < \(seenXmax)::text::xid8 AND NOT e.xid = ANY (\(seenRunning)::text[]::xid8[]))
              AND NOT (e.xid < \(partlyXmax)::text::xid8 AND NOT e.xid = ANY (\(partlyRunning)::text[]::xid8[]) AND e.id <= \(partlyUpTo))
            ORDER BY e.id
            """
        var snapshot: SnapshotHorizon?
        var state: RunState?
        var events: [(event: AuditEvent, xid: UInt64)] = []
        let rows = try await client.query(query, logger: logger)
        for try await (snap, runState, xid, id, at, run, type, actor, step, attempt, epoch, worker, detail) in rows.decode((String, String?, String?, Int64?, Date?, UUID?, String?, String?, String?, Int?, Int64?, String?, String?).self) {
            if snapshot == nil {
                guard let parsed = SnapshotHorizon(snapshotText: snap) else {
                    throw KajiError(.unknownStoredValue, "pg_current_snapshot() gave '\(snap)', which is not XMIN:XMAX:XIP,…")
                }
                snapshot = parsed
                state = try runState.map { try RunState.stored($0, column: "runs.state") }
            }
            guard let xid = xid.flatMap(UInt64.init), let id, let at, let type, let actor else { continue }
            let event = AuditEvent(id: id, at: at, runId: run, eventType: try AuditEventType.stored(type, column: "audit_events.type"), actor: actor,
                                   step: step, attempt: attempt, epoch: epoch, worker: worker, detail: detail)
            events.append((event, xid))
        }
        guard let snapshot else { throw KajiError(.databaseUnavailable, "the run's events could not be read: the statement returned no row") }
        return RunEventRound(snapshot: snapshot, state: state, events: events)
    }
}
