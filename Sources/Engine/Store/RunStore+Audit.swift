import Foundation
import PostgresNIO

/// Which audit events to read (every filter is optional).
public struct AuditFilter: Sendable {
    public var runID: UUID?
    public var actor: String?
    public var type: String?
    /// Events at or after this time.
    public var since: Date?
    /// Only events older than this id (the next page of a walk back in time; default: none).
    public var before: Int64?
    /// At most this many, the newest (default 100).
    public var limit: Int

    public init(runID: UUID? = nil, actor: String? = nil, type: String? = nil, since: Date? = nil, before: Int64? = nil, limit: Int = 100) {
        self.runID = runID
        self.actor = actor
        self.type = type
        self.since = since
        self.before = before
        self.limit = limit
    }
}

/// The first thing `verifyAudit` found wrong.
public struct AuditProblem: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The event's columns no longer hash to the sealed value.
        case altered
        /// A sealed event is gone from `audit_events`.
        case missing
        /// Chain entries are missing (a gap in `seq`).
        case gap
        /// A chain entry does not link to the one before it (the chain itself was edited).
        case broken
        /// An event older than the sealer's last round (its transaction ended before that round's oldest
        /// running one) has no chain entry: inserted behind the sealer's back, or the seal state was edited.
        case unsealed
    }

    public var kind: Kind
    public var seq: Int64
    public var eventId: Int64?
    /// For `altered`: the columns that differ.
    public var fields: [String]
    public var message: String
}

/// The result of `verifyAudit`.
public struct AuditVerification: Sendable, Codable, Equatable {
    public var ok: Bool
    /// Chain entries checked (all of them when `ok`).
    public var checked: Int
    /// Events sealed by this verification before the walk.
    public var sealedNow: Int
    /// The last entry's sequence number and hash: record them elsewhere to detect a rewritten chain later.
    public var headSeq: Int64
    public var headHash: String
    public var problem: AuditProblem?
}

extension RunStore {
    /// Advisory-lock key of the sealer of this schema.
    private var sealLock: PostgresQuery { "SELECT pg_advisory_xact_lock(7236003, hashtext(\(config.schema)))" }
    private var sealTryLock: PostgresQuery { "SELECT pg_try_advisory_xact_lock(7236003, hashtext(\(config.schema)))" }

    private static let recordColumns = "e.id, (extract(epoch FROM e.at) * 1000000)::int8 AS at_us, e.run_id, e.type, e.actor, e.step, e.attempt, e.epoch, e.worker, e.detail::text AS detail"

    /// Appends the audit events committed since the last seal to the hash chain.
    ///
    /// Writers are never blocked or serialised: they only fill in `xid` (their transaction id). The sealer
    /// remembers the snapshot of its last complete round (`audit_seal_state.snap`); every event visible in it
    /// is chained. The events that can have become visible since are those of transactions that were still
    /// running then (the snapshot's xip list) or began later (xid at or above its xmax): each round chains
    /// those (two index scans, however long the log), oldest transaction first, and keeps its own snapshot
    /// for the next. An event committed late is therefore chained late, never skipped, and a long
    /// transaction elsewhere costs one index probe per round.
    ///
    /// One sealer at a time per schema (a transaction-level advisory lock); with `wait` false (the workers'
    /// maintenance) a busy lock means someone else is sealing and this returns 0 at once. Returns the number
    /// of events sealed.
    @discardableResult
    package func sealAudit(wait: Bool = false, batchSize: Int = 2000, maxBatches: Int = 50) async throws -> Int {
        var total = 0
        for _ in 0..<max(1, maxBatches) {
            let sealed = try await sealBatch(wait: wait, batchSize: batchSize)
            guard let sealed else { return total }
            total += sealed
            if sealed < batchSize { break }
        }
        return total
    }

    /// One batch in one transaction; nil when another sealer holds the lock.
    private func sealBatch(wait: Bool, batchSize: Int) async throws -> Int? {
        try await inTransactionUnwrapped { connection -> Int? in
            if wait {
                try await connection.query(sealLock, logger: logger)
            } else {
                var locked = false
                for try await value in try await connection.query(sealTryLock, logger: logger).decode(Bool.self) { locked = value }
                if !locked { return nil }
            }
            var seq: Int64 = 0
            var previous = AuditChain.genesis
            let head = try await connection.query("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1", logger: logger)
            for try await (s, hash) in head.decode((Int64, Data).self) {
                seq = s; previous = hash
            }
            // The last complete round's snapshot, as constants so that the planner probes the (xid, id) index.
            var lastXmax = "1"
            var lastXip: [String] = []
            let state = try await connection.query("""
                SELECT pg_snapshot_xmax(snap)::text, ARRAY(SELECT pg_snapshot_xip(snap)::text) FROM audit_seal_state
                """, logger: logger)
            for try await (xmax, xip) in state.decode((String, [String]).self) {
                lastXmax = xmax; lastXip = xip
            }
            // One statement, one snapshot: the events that may have become visible since that round and are not
            // chained yet, and this statement's own snapshot (the LEFT JOIN keeps one row when there is no event).
            let query: PostgresQuery = """
                WITH now_snap AS (
                    SELECT pg_current_snapshot()::text AS snap
                ), pending AS (
                    SELECT e.xid, \(unescaped: Self.recordColumns)
                    FROM audit_events AS e
                    WHERE (e.xid >= \(lastXmax)::text::xid8 OR e.xid = ANY (\(lastXip)::text[]::xid8[]))
                      AND NOT EXISTS (SELECT 1 FROM audit_chain AS c WHERE c.event_id = e.id)
                    ORDER BY e.xid, e.id
                    LIMIT \(batchSize)
                )
                SELECT now_snap.snap, p.xid::text, p.id, p.at_us, p.run_id, p.type, p.actor, p.step, p.attempt, p.epoch, p.worker, p.detail
                FROM now_snap LEFT JOIN pending AS p ON true
                ORDER BY p.xid, p.id
                """
            var seqs: [Int64] = [], ids: [Int64] = [], xids: [String] = [], prevs: [String] = [], hashes: [String] = [], digests: [String] = []
            var snapshot: String?
            let rows = try await connection.query(query, logger: logger)
            for try await (snap, xid, id, at, run, type, actor, step, attempt, epoch, worker, detail) in rows.decode((String, String?, Int64?, Int64?, UUID?, String?, String?, String?, Int?, Int64?, String?, String?).self) {
                snapshot = snap
                guard let xid, let id, let at, let type, let actor else { continue }
                let record = AuditRecord(id: id, atMicros: at, runID: run, type: type, actor: actor, step: step, attempt: attempt, epoch: epoch, worker: worker, detail: detail)
                seq += 1
                let hash = AuditChain.hash(seq: seq, previous: previous, record: record)
                seqs.append(seq); ids.append(id); xids.append(xid)
                prevs.append(AuditChain.hex(previous)); hashes.append(AuditChain.hex(hash)); digests.append(AuditChain.hex(AuditChain.fieldDigests(record)))
                previous = hash
            }
            if !seqs.isEmpty {
                try await connection.query("""
                    INSERT INTO audit_chain (seq, event_id, event_xid, prev_hash, hash, field_digests)
                    SELECT s, e, x::xid8, decode(p, 'hex'), decode(h, 'hex'), decode(d, 'hex')
                    FROM unnest(\(seqs)::int8[], \(ids)::int8[], \(xids)::text[], \(prevs)::text[], \(hashes)::text[], \(digests)::text[]) AS u(s, e, x, p, h, d)
                    """, logger: logger)
            }
            // Everything visible in this snapshot is chained now (the batch was not cut short): the next round
            // starts from it. A cut-short round keeps the old one and the next round goes on where it stopped.
            if seqs.count < batchSize, let snapshot {
                try await connection.query("UPDATE audit_seal_state SET snap = \(snapshot)::pg_snapshot", logger: logger)
            }
            return seqs.count
        }
    }

    /// Seals what is pending (waiting for a concurrent sealer), then walks the whole chain and reports the
    /// first entry whose event was altered or deleted, a gap in the chain, or an entry that does not link
    /// to the previous one.
    package func verifyAudit() async throws -> AuditVerification {
        let sealedNow = try await sealAudit(wait: true, maxBatches: Int.max / 2)
        var expected: Int64 = 1
        var previous = AuditChain.genesis
        var checked = 0
        var problem: AuditProblem?
        let rows = try await client.query("""
            SELECT c.seq, c.event_id, c.prev_hash, c.hash, c.field_digests, \(unescaped: Self.recordColumns)
            FROM audit_chain AS c LEFT JOIN audit_events AS e ON e.id = c.event_id
            ORDER BY c.seq
            """, logger: logger)
        for try await (seq, eventID, prevHash, hash, digests, id, at, run, type, actor, step, attempt, epoch, worker, detail) in rows.decode((Int64, Int64, Data, Data, Data, Int64?, Int64?, UUID?, String?, String?, String?, Int?, Int64?, String?, String?).self) {
            if problem != nil { continue }
            if seq != expected {
                problem = AuditProblem(kind: .gap, seq: expected, eventId: nil, fields: [],
                                       message: "audit chain entries \(expected)...\(seq - 1) are missing (the chain jumps from \(expected - 1) to \(seq))")
                continue
            }
            if prevHash != previous {
                problem = AuditProblem(kind: .broken, seq: seq, eventId: eventID, fields: [],
                                       message: "audit chain entry \(seq) (event \(eventID)) does not link to entry \(seq - 1): the chain was edited")
                continue
            }
            guard let id, let at, let type, let actor else {
                problem = AuditProblem(kind: .missing, seq: seq, eventId: eventID, fields: [],
                                       message: "audit event \(eventID) (chain entry \(seq)) is missing: it was deleted")
                continue
            }
            let record = AuditRecord(id: id, atMicros: at, runID: run, type: type, actor: actor, step: step, attempt: attempt, epoch: epoch, worker: worker, detail: detail)
            let recomputed = AuditChain.hash(seq: seq, previous: previous, record: record)
            if recomputed != hash {
                let fields = AuditChain.changedFields(stored: digests, record: record)
                let what = fields.isEmpty ? "its chain entry was rewritten" : "\(fields.joined(separator: ", ")) differ\(fields.count == 1 ? "s" : "")"
                problem = AuditProblem(kind: .altered, seq: seq, eventId: eventID, fields: fields,
                                       message: "audit event \(eventID) (chain entry \(seq), type \(type)) was altered: \(what)")
                continue
            }
            previous = hash
            expected = seq + 1
            checked += 1
        }
        if problem == nil {
            let stray = try await scalar("""
                SELECT e.id FROM audit_events AS e, audit_seal_state AS s
                WHERE e.xid < pg_snapshot_xmin(s.snap) AND NOT EXISTS (SELECT 1 FROM audit_chain AS c WHERE c.event_id = e.id)
                ORDER BY e.id LIMIT 1
                """, as: Int64.self)
            if let stray {
                problem = AuditProblem(kind: .unsealed, seq: expected, eventId: stray, fields: [],
                                       message: "audit event \(stray) is not in the chain although every event of its age should be: it was inserted behind the sealer's back or the seal state was edited")
            }
        }
        return AuditVerification(ok: problem == nil, checked: checked, sealedNow: sealedNow, headSeq: expected - 1,
                                 headHash: AuditChain.hex(previous), problem: problem)
    }

    /// Checks a head recorded earlier (`SEQ:HASH` from `verifyAudit`): nil when chain entry `seq` still has
    /// `hash` (hex), else the problem. Catches a chain rewritten from some point on, which the walk alone
    /// cannot tell from a genuine one.
    package func checkAuditAnchor(seq: Int64, hash: String) async throws -> AuditProblem? {
        guard let stored = try await scalar("SELECT hash FROM audit_chain WHERE seq = \(seq)", as: Data.self) else {
            return AuditProblem(kind: .gap, seq: seq, eventId: nil, fields: [], message: "audit chain entry \(seq) of the expected head is missing")
        }
        guard AuditChain.hex(stored) == hash.lowercased() else {
            return AuditProblem(kind: .broken, seq: seq, eventId: nil, fields: [],
                                message: "audit chain entry \(seq) has hash \(AuditChain.hex(stored)), not the expected head \(hash.lowercased()): the chain was rewritten")
        }
        return nil
    }

    /// Audit events matching `filter`: the newest `limit` of them, returned oldest first.
    package func auditEvents(_ filter: AuditFilter) async throws -> [AuditEvent] {
        var events: [AuditEvent] = []
        let rows = try await client.query("""
            SELECT id, at, run_id, type, actor, step, attempt, epoch, worker, detail::text FROM audit_events
            WHERE (\(filter.runID)::uuid IS NULL OR run_id = \(filter.runID))
              AND (\(filter.actor)::text IS NULL OR actor = \(filter.actor))
              AND (\(filter.type)::text IS NULL OR type = \(filter.type))
              AND (\(filter.since)::timestamptz IS NULL OR at >= \(filter.since))
              AND (\(filter.before)::int8 IS NULL OR id < \(filter.before))
            ORDER BY id DESC LIMIT \(filter.limit)
            """, logger: logger)
        for try await (id, at, run, type, actor, step, attempt, epoch, worker, detail) in rows.decode((Int64, Date, UUID?, String, String, String?, Int?, Int64?, String?, String?).self) {
            events.append(AuditEvent(id: id, at: at, runId: run, eventType: try AuditEventType.stored(type, column: "audit_events.type"), actor: actor, step: step, attempt: attempt, epoch: epoch, worker: worker, detail: detail))
        }
        return events.reversed()
    }

    /// The audit events of one run, oldest first.
    package func auditEvents(runID: UUID) async throws -> [AuditEvent] {
        var events: [AuditEvent] = []
        let rows = try await client.query("""
            SELECT id, at, run_id, type, actor, step, attempt, epoch, worker, detail::text
            FROM audit_events WHERE run_id = \(runID) ORDER BY id
            """, logger: logger)
        for try await (id, at, run, type, actor, step, attempt, epoch, worker, detail) in rows.decode((Int64, Date, UUID?, String, String, String?, Int?, Int64?, String?, String?).self) {
            events.append(AuditEvent(id: id, at: at, runId: run, eventType: try AuditEventType.stored(type, column: "audit_events.type"), actor: actor, step: step, attempt: attempt, epoch: epoch, worker: worker, detail: detail))
        }
        return events
    }
}
