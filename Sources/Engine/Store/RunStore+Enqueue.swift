import Foundation
import PostgresNIO

extension RunStore {
    /// Enqueues one run. The same idempotency key returns the existing run, never a second one, also when
    /// two callers race. The input must already be validated (see `WorkflowRegistry.validate`).
    package func enqueue(_ request: EnqueueRequest, maxAttempts: Int) async throws -> EnqueueResult {
        let id = RunID.make()
        let priority = request.priority
        let query: PostgresQuery = """
            WITH ins AS (
                INSERT INTO runs (id, kind, queue, priority, run_at, max_attempts, idempotency_key, concurrency_key, actor)
                VALUES (\(id), \(request.kind), \(request.queue), \(priority), coalesce(\(request.runAt), now()), \(maxAttempts), \(request.idempotencyKey), \(request.concurrencyKey), \(request.actor))
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id, queue, run_at
            ), payload AS (
                INSERT INTO run_payloads (run_id, input) SELECT id, \(request.input)::text::jsonb FROM ins
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, detail)
                SELECT id, \(literal: AuditEventType.runEnqueued), \(request.actor), 1, 0,
                       jsonb_strip_nulls(jsonb_build_object('kind', \(request.kind)::text, 'queue', \(request.queue)::text, 'priority', \(priority)::int,
                                          'idempotencyKey', \(request.idempotencyKey)::text, 'concurrencyKey', \(request.concurrencyKey)::text))
                FROM ins
            )
            SELECT ins.id FROM ins, LATERAL (SELECT pg_notify(\(channel), ins.queue)) AS n
            """
        if let created = try await scalar(query, as: UUID.self) {
            return EnqueueResult(id: created, created: true)
        }
        // The key was taken. The winner may have committed after this statement's snapshot: look again.
        guard let key = request.idempotencyKey else {
            throw KajiError(.invalidState, "enqueue of \(request.kind) inserted nothing")
        }
        for _ in 0..<50 {
            if let existing = try await scalar("SELECT id FROM runs WHERE idempotency_key = \(key)", as: UUID.self) {
                return EnqueueResult(id: existing, created: false)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw KajiError(.invalidState, "idempotency key '\(key)' is taken but its run cannot be read")
    }

    /// Enqueues many runs of one kind in one statement (one round trip, one commit).
    /// Runs whose idempotency key exists already are not created again; their existing ids are returned.
    package func enqueueBatch(kind: String, inputs: [String], queue: String = "default", priority: Int = 0, runAt: Date? = nil, idempotencyKeys: [String?]? = nil, maxAttempts: Int, actor: String) async throws -> [EnqueueResult] {
        guard !inputs.isEmpty else { return [] }
        let ids = inputs.map { _ in RunID.make() }
        let keys: [String] = idempotencyKeys.map { $0.map { $0 ?? "" } } ?? Array(repeating: "", count: inputs.count)
        guard keys.count == inputs.count else {
            throw KajiError(.invalidArgument, "enqueueBatch: \(keys.count) idempotency keys for \(inputs.count) inputs")
        }
        let query: PostgresQuery = """
            WITH src AS (
                SELECT * FROM unnest(\(ids)::uuid[], \(inputs)::text[], \(keys)::text[]) AS s(id, input, key)
            ), ins AS (
                INSERT INTO runs (id, kind, queue, priority, run_at, max_attempts, idempotency_key, actor)
                SELECT id, \(kind), \(queue), \(priority), coalesce(\(runAt), now()), \(maxAttempts), nullif(key, ''), \(actor) FROM src
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id
            ), payload AS (
                INSERT INTO run_payloads (run_id, input) SELECT src.id, src.input::jsonb FROM src JOIN ins USING (id)
            ), audit AS (
                INSERT INTO audit_events (run_id, type, actor, attempt, epoch, detail)
                SELECT id, \(literal: AuditEventType.runEnqueued), \(actor), 1, 0, jsonb_build_object('kind', \(kind)::text, 'queue', \(queue)::text, 'batch', true) FROM ins
            ), notify AS (
                SELECT pg_notify(\(channel), \(queue)) FROM (SELECT 1 FROM ins LIMIT 1) AS any_row
            )
            SELECT ins.id FROM ins, (SELECT count(*) FROM notify) AS n
            """
        var created = Set<UUID>()
        for try await id in try await client.query(query, logger: logger).decode(UUID.self) { created.insert(id) }
        var results: [EnqueueResult] = []
        results.reserveCapacity(ids.count)
        var missing: [(Int, String)] = []
        for (index, id) in ids.enumerated() {
            if created.contains(id) {
                results.append(EnqueueResult(id: id, created: true))
            } else {
                results.append(EnqueueResult(id: id, created: false))
                missing.append((index, keys[index]))
            }
        }
        if !missing.isEmpty {
            let wanted = missing.map(\.1)
            var byKey: [String: UUID] = [:]
            for try await (key, id) in try await client.query("SELECT idempotency_key, id FROM runs WHERE idempotency_key = ANY(\(wanted)::text[])", logger: logger).decode((String, UUID).self) {
                byKey[key] = id
            }
            for (index, key) in missing {
                guard let id = byKey[key] else {
                    throw KajiError(.invalidState, "idempotency key '\(key)' is taken but its run cannot be read; enqueue again")
                }
                results[index] = EnqueueResult(id: id, created: false)
            }
        }
        return results
    }
}
