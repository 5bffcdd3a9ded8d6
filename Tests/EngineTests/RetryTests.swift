import Engine
import Foundation
import KajiTesting
import Testing

@Suite("Retries", .timeLimit(.minutes(2)))
struct RetryTests {
    @Test("backoff grows exponentially, is capped and jittered")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: .seconds(1), backoff: 2, maxDelay: .seconds(10), jitter: 0.2)
        #expect(policy.delay(afterAttempt: 1, random: 0) == .seconds(1))
        #expect(policy.delay(afterAttempt: 2, random: 0) == .seconds(2))
        #expect(policy.delay(afterAttempt: 3, random: 0) == .seconds(4))
        #expect(policy.delay(afterAttempt: 8, random: 0) == .seconds(10))
        #expect(policy.delay(afterAttempt: 3, random: 0.5) == .milliseconds(3600))
        #expect(policy.delay(afterAttempt: 3, random: 0.999) > .milliseconds(3200))
    }

    @Test("failed attempts are retried and each is kept with its error", .needsDatabase)
    func failFirstAttempts() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 2, "failFirstAttempts": 2}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            for step in detail.steps {
                #expect(step.attempts == 3)
                #expect(step.history.map(\.outcome) == ["failed", "failed", "succeeded"])
                #expect(step.history[0].error?.contains("injected failure: attempt 1") == true)
                #expect(step.history[1].error?.contains("injected failure: attempt 2") == true)
            }
            #expect(detail.events.filter { $0.type == "step.failed" }.count == 4)
        }
    }

    @Test("a non-retryable error fails the run at once with a readable error", .needsDatabase)
    func nonRetryable() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: FailingWorkflow.kind, input: #"{"retryable": false, "attempts": 5}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .failed)
            #expect(counter.count("\(r.id)/breaks") == 1)
            #expect(run.lastError == "step 'breaks' failed after 1 attempt: the thing is broken (attempt 1)")
        }
    }

    @Test("exhausted attempts fail the run; kaji retry resumes from the first unfinished step", .needsDatabase)
    func exhaustThenRetry() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: FailingWorkflow.kind, input: #"{"retryable": true, "attempts": 3}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            #expect(run.state == .failed)
            #expect(counter.count("\(r.id)/breaks") == 3)
            #expect(run.lastError?.contains("failed after 3 attempts") == true)

            let retried = try await db.store.retryRun(id: r.id, actor: "cli:tester@host")
            #expect(retried.attempt == 2)
            #expect(retried.state == .pending || retried.state == .running)
            let again = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(again.state == .failed)
            #expect(counter.count("\(r.id)/first") == 1, "the finished step must not run again")
            #expect(counter.count("\(r.id)/breaks") == 6, "the failed step gets a fresh budget of 3")
            let detail = try #require(try await db.store.runDetail(id: r.id))
            let retriedEvent = try #require(detail.events.first { $0.type == "run.retried" })
            #expect(retriedEvent.actor == "cli:tester@host")
            #expect(detail.steps.first { $0.name == "breaks" }?.attempts == 6)
        }
    }

    @Test("retrying a run that is not failed or cancelled names its state; an unknown id is not found", .needsDatabase)
    func retryRefused() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            await #expect(throws: KajiError.self) { try await db.store.retryRun(id: r.id, actor: "test") }
            do {
                _ = try await db.store.retryRun(id: r.id, actor: "test")
            } catch let error as KajiError {
                #expect(error.code == .invalidState)
                #expect(error.message.contains("is pending"))
            }
            do {
                _ = try await db.store.retryRun(id: UUID(), actor: "test")
                Issue.record("expected runNotFound")
            } catch let error as KajiError {
                #expect(error.code == .runNotFound)
            }
        }
    }
}
