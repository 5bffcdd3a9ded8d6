import Foundation
import PostgresNIO

/// What the database says about the queue, the workers and the waits right now: the gauges `kaji serve`
/// computes once per scrape of `/metrics` (every worker process exports only its own counters).
public struct DatabaseGauges: Sendable {
    /// Runs of one queue in one unfinished state.
    public struct Queue: Sendable, Equatable {
        public var queue: String
        public var state: RunState
        /// Runs in the state.
        public var runs: Int
        /// Of those, runs whose `run_at` has come (claimable now, but for concurrency keys); 0 for `running`.
        public var due: Int
        /// Seconds since the oldest due run became due (0 when none is due, and for `running`).
        public var oldestDueAgeSeconds: Double
    }

    /// Waiting runs of one queue by what they wait for.
    public struct Waiting: Sendable, Equatable {
        public var queue: String
        /// `sleep`, `signal` or `poll` (`WaitKind`).
        public var wait: String
        /// Runs with at least one step waiting so (a run waiting on several kinds counts under each).
        public var runs: Int
    }

    /// Runs of one kind waiting for an approval.
    public struct Approvals: Sendable, Equatable {
        public var kind: String
        public var runs: Int
        /// Seconds the longest-waiting of them has waited.
        public var oldestWaitSeconds: Double
    }

    /// A registered worker that has not stopped (and beat within the last day).
    public struct Worker: Sendable, Equatable {
        public var id: String
        public var host: String
        /// Its last heartbeat, in seconds since 1970.
        public var lastHeartbeat: Double
        /// Whether it beat within `DatabaseGauges.activeWindow`.
        public var active: Bool
        public var concurrency: Int
    }

    public var queues: [Queue]
    public var waiting: [Waiting]
    public var approvals: [Approvals]
    public var workers: [Worker]

    /// A worker counts as active when its heartbeat is at most this old (60 s; workers beat every third of
    /// their lease, 10 s by default).
    public static let activeWindow: Duration = .seconds(60)
}

/// The last success of one kind of run per cluster in the inventory.
public struct ClusterLastSuccess: Sendable, Equatable {
    public var cluster: String
    /// Seconds since 1970 of the last success, or of the cluster's creation when none succeeded yet.
    public var lastSuccess: Double
}

extension RunStore {
    /// The gauges of `DatabaseGauges`, in four statements, each reading only unfinished runs (the partial
    /// indexes `runs_claimable`, `runs_unsucceeded`) and the workers table.
    package func databaseGauges() async throws -> DatabaseGauges {
        var queues: [DatabaseGauges.Queue] = []
        let queueRows = try await client.query("""
            SELECT queue, state, count(*)::int8,
                   (count(*) FILTER (WHERE run_at <= now() AND state <> 'running'))::int8,
                   coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now() AND state <> 'running')), 0)::float8
            FROM runs WHERE state IN ('pending', 'retrying', 'waiting', 'running')
            GROUP BY queue, state ORDER BY queue, state
            """, logger: logger)
        for try await (queue, state, runs, due, age) in queueRows.decode((String, String, Int, Int, Double).self) {
            queues.append(DatabaseGauges.Queue(queue: queue, state: try RunState.stored(state, column: "runs.state"), runs: runs, due: due,
                                               oldestDueAgeSeconds: max(0, age)))
        }

        var waiting: [DatabaseGauges.Waiting] = []
        let waitRows = try await client.query("""
            SELECT r.queue, s.wait ->> 'kind', count(DISTINCT r.id)::int8
            FROM runs AS r JOIN steps AS s ON s.run_id = r.id AND s.state = 'waiting' AND s.wait IS NOT NULL
            WHERE r.state = 'waiting'
            GROUP BY 1, 2 ORDER BY 1, 2
            """, logger: logger)
        for try await (queue, wait, runs) in waitRows.decode((String, String, Int).self) {
            waiting.append(DatabaseGauges.Waiting(queue: queue, wait: wait, runs: runs))
        }

        var approvals: [DatabaseGauges.Approvals] = []
        let approvalRows = try await client.query("""
            SELECT r.kind, count(DISTINCT r.id)::int8, coalesce(extract(epoch FROM now() - min(s.started_at)), 0)::float8
            FROM runs AS r JOIN steps AS s ON s.run_id = r.id AND s.state = 'waiting' AND s.wait ->> 'signal' = 'approval'
            WHERE r.state = 'waiting'
            GROUP BY r.kind ORDER BY r.kind
            """, logger: logger)
        for try await (kind, runs, age) in approvalRows.decode((String, Int, Double).self) {
            approvals.append(DatabaseGauges.Approvals(kind: kind, runs: runs, oldestWaitSeconds: max(0, age)))
        }

        var workers: [DatabaseGauges.Worker] = []
        let activeSeconds = DatabaseGauges.activeWindow.seconds
        let workerRows = try await client.query("""
            SELECT id, host, extract(epoch FROM heartbeat_at)::float8,
                   heartbeat_at > now() - make_interval(secs => \(activeSeconds)), concurrency
            FROM workers
            WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '1 day'
            ORDER BY id
            """, logger: logger)
        for try await (id, host, beat, active, concurrency) in workerRows.decode((String, String, Double, Bool, Int).self) {
            workers.append(DatabaseGauges.Worker(id: id, host: host, lastHeartbeat: beat, active: active, concurrency: concurrency))
        }
        return DatabaseGauges(queues: queues, waiting: waiting, approvals: approvals, workers: workers)
    }

    /// For every cluster of the inventory in state `ready` or `scaling`, when a run of `kind` keyed
    /// `cluster:NAME` last succeeded, or when the cluster was created if none has. Reads every succeeded run
    /// of `kind` (no index serves it): callers cache the answer.
    package func clusterLastSuccess(kind: String) async throws -> [ClusterLastSuccess] {
        let rows = try await client.query("""
            SELECT c.name, extract(epoch FROM greatest(c.created_at, coalesce(b.last, c.created_at)))::float8
            FROM clusters AS c
            LEFT JOIN (
                SELECT concurrency_key, max(finished_at) AS last FROM runs
                WHERE kind = \(kind) AND state = 'succeeded' AND concurrency_key LIKE 'cluster:%'
                GROUP BY concurrency_key
            ) AS b ON b.concurrency_key = 'cluster:' || c.name
            WHERE c.state IN ('ready', 'scaling')
            ORDER BY c.name
            """, logger: logger)
        var result: [ClusterLastSuccess] = []
        for try await (name, last) in rows.decode((String, Double).self) {
            result.append(ClusterLastSuccess(cluster: name, lastSuccess: last))
        }
        return result
    }

    /// Seconds from the run's first start to now, less the time its steps spent waiting for signals
    /// (approvals among them): what `kaji_run_duration_seconds` records for a run that just ended. Nil
    /// when the run is gone or never started.
    package func runActiveSeconds(id: UUID) async throws -> Double? {
        try await scalar("""
            SELECT (extract(epoch FROM now() - r.started_at)
                    - coalesce((SELECT sum(extract(epoch FROM coalesce(s.finished_at, now()) - s.started_at))
                                FROM steps AS s
                                WHERE s.run_id = r.id AND s.wait ->> 'kind' = 'signal' AND s.started_at IS NOT NULL), 0))::float8
            FROM runs AS r WHERE r.id = \(id) AND r.started_at IS NOT NULL
            """, as: Double.self)
    }
}
