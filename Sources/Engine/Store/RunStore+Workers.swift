import Foundation
import PostgresNIO

extension RunStore {
    /// Records a worker process as started.
    package func registerWorker(id: String, host: String, pid: Int, queues: [String], concurrency: Int) async throws {
        try await client.query("""
            INSERT INTO workers (id, host, pid, queues, concurrency) VALUES (\(id), \(host), \(pid), \(queues)::text[], \(concurrency))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
            """, logger: logger)
        try await client.query("""
            INSERT INTO audit_events (type, actor, worker, detail)
            VALUES (\(literal: AuditEventType.workerStarted), \("worker:\(id)"), \(id), jsonb_build_object('host', \(host)::text, 'pid', \(pid)::int, 'queues', \(queues.joined(separator: ","))::text, 'concurrency', \(concurrency)::int))
            """, logger: logger)
    }

    /// Records a worker process as stopped.
    package func deregisterWorker(id: String, reason: String) async throws {
        try await client.query("UPDATE workers SET stopped_at = now() WHERE id = \(id)", logger: logger)
        try await client.query("""
            INSERT INTO audit_events (type, actor, worker, detail) VALUES (\(literal: AuditEventType.workerStopped), \("worker:\(id)"), \(id), jsonb_build_object('reason', \(reason)::text))
            """, logger: logger)
    }
}

extension RunStore {
    /// Workers registered and not stopped.
    package func liveWorkerCount() async throws -> Int {
        try await count("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
    }
}
