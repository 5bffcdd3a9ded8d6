import Foundation
import PostgresNIO

extension RunStore {
    /// The runs waiting for an approval (a step waiting for the signal `signal`), oldest first, at most
    /// `limit`, with the filters of `listRuns` (each optional): the dashboard lists them before the others.
    package func runIDsAwaitingApproval(signal: String, kind: String? = nil, concurrencyKey: String? = nil, actor: String? = nil,
                                        limit: Int) async throws -> [UUID] {
        let query: PostgresQuery = """
            SELECT r.id FROM runs r
            WHERE r.state = 'waiting' AND (\(kind)::text IS NULL OR r.kind = \(kind))
              AND (\(concurrencyKey)::text IS NULL OR r.concurrency_key = \(concurrencyKey)) AND (\(actor)::text IS NULL OR r.actor = \(actor))
              AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id AND s.state = 'waiting' AND s.wait->>'signal' = \(signal))
            ORDER BY r.id LIMIT \(limit)
            """
        var ids: [UUID] = []
        for try await id in try await client.query(query, logger: logger).decode(UUID.self) { ids.append(id) }
        return ids
    }
}
