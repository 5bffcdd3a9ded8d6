import Foundation
import PostgresNIO

extension RunStore {
    /// Inserts `count` finished runs (with payloads and two steps each) to measure the claim path against
    /// a large history. Benchmarks only.
    package func insertFinishedHistory(count: Int, kind: String) async throws {
        var left = count
        // Run ids from a day ago, one millisecond apart going back, as real history would have.
        let dayAgo = Date().addingTimeInterval(-86_400)
        while left > 0 {
            let n = min(left, 100_000)
            let ids = (0..<n).map { RunID.make(at: dayAgo.addingTimeInterval(-Double(count - left + $0) / 1000)) }
            try await client.query("""
                WITH r AS (
                    INSERT INTO runs (id, kind, state, actor, attempt, epoch, created_at, run_at, started_at, finished_at)
                    SELECT id, \(kind), 'succeeded', 'bench', 1, 1, now() - interval '1 day', now() - interval '1 day',
                           now() - interval '1 day', now() - interval '1 day'
                    FROM unnest(\(ids)::uuid[]) AS id
                    RETURNING id
                ), p AS (
                    INSERT INTO run_payloads (run_id, input, output) SELECT id, '{}', '{}' FROM r
                )
                INSERT INTO steps (run_id, name, state, attempts, epoch, result, started_at, finished_at)
                SELECT id, s.name, 'succeeded', 1, 1, '"ok"', now() - interval '1 day', now() - interval '1 day'
                FROM r, (VALUES ('step-1'), ('step-2')) AS s(name)
                """, logger: logger)
            left -= n
        }
        try await client.query("ANALYZE runs", logger: logger)
    }

    /// Median time of `samples` claim statements that find nothing to claim, in ms (the claim path's fixed cost).
    package func measureEmptyClaim(samples: Int = 200) async throws -> Double {
        var times: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<samples {
            let start = clock.now
            _ = try await claimRuns(worker: "probe", queues: ["__empty__"], limit: 16, leaseSeconds: 30)
            times.append((clock.now - start).seconds * 1000)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// The current values of server settings `names` as `name=value` pairs, by name, comma-separated (e.g.
    /// `fsync=on,synchronous_commit=on`); names the server does not know are left out. Benchmarks print
    /// them with their figures.
    package func databaseSettings(_ names: [String]) async throws -> String {
        try await scalar("SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name = ANY(\(names)::text[])",
                         as: String?.self).flatMap { $0 } ?? ""
    }
}
