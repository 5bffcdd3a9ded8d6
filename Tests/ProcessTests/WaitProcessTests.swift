import Engine
import Foundation
import KajiTesting
import Testing

/// Durable waits with real `kaji worker` processes (moved from EngineTests' WaitTests).
@Suite("Durable waits across worker processes", .timeLimit(.minutes(3)), .needsDatabase)
struct WaitProcessTests {
    @Test("a durable sleep holds no worker: the run survives restarting every worker and resumes on time")
    func sleepSurvivesRestart() async throws {
        try await TestDatabase.with { db in
            let r = try await db.client(testRegistry()).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1, "sleepMillis": 2500}"#, actor: "test"))
            let first = try db.spawnWorker()
            try await eventually("the run is waiting") { try await db.store.run(id: r.id)?.state == .waiting }
            let waiting = try #require(try await db.store.run(id: r.id))
            #expect(waiting.leaseOwner == nil, "a waiting run holds no lease")
            first.signal(SIGTERM)
            #expect(try await first.wait(timeout: .seconds(20)).status == 0)

            let second = try db.spawnWorker()
            let run = try await db.waitForFinish(r.id)
            second.signal(SIGTERM)
            _ = try await second.wait(timeout: .seconds(20))
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            let sleep = try #require(detail.steps.first { $0.name == "sleep" })
            #expect(sleep.state == .succeeded)
            let stepOne = try #require(detail.steps.first { $0.name == "step-1" }?.startedAt)
            #expect(stepOne.timeIntervalSince(run.createdAt) >= 2.4, "resumed no earlier than the sleep's end")
            #expect(detail.events.contains { $0.type == "run.suspended" })
        }
    }
}
