import Engine
import Foundation
import KajiTesting
import Testing

@Suite("Workflows and steps", .timeLimit(.minutes(2)), .needsDatabase)
struct StepTests {
    @Test("a diag run checkpoints each step and ends succeeded with its output")
    func diagRunSucceeds() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 3}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.steps.map(\.name).sorted() == ["step-1", "step-2", "step-3"])
            #expect(detail.steps.allSatisfy { $0.state == .succeeded && $0.attempts == 1 })
            #expect(detail.output?.contains("step-3") == true)
            let types = detail.events.map(\.type)
            #expect(types.first == "run.enqueued")
            #expect(types.contains("run.claimed"))
            #expect(types.filter { $0 == "step.started" }.count == 3)
            #expect(types.filter { $0 == "step.succeeded" }.count == 3)
            #expect(types.last == "run.succeeded")
        }
    }

    @Test("on resume a finished step returns its stored result and does not run again")
    func resumeSkipsFinishedSteps() async throws {
        try await TestDatabase.with { db in
            let counter = ExecutionCounter()
            let registry = testRegistry(counter: counter)
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: ResumeWorkflow.kind, input: #"{"tag": "x"}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            #expect(run.attempt == 2)
            #expect(counter.count("x/a") == 1)
            #expect(counter.count("x/b") == 2)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.output == #"["a-result", "b-result"]"#)
        }
    }

    @Test("the same step name twice in one run is a clear error")
    func duplicateStepName() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: DuplicateStepWorkflow.kind, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .failed)
            #expect(run.lastError?.contains("step name 'same' is used twice") == true)
        }
    }

    @Test("steps started concurrently in a task group are each checkpointed")
    func fanOut() async throws {
        try await TestDatabase.with { db in
            let registry = testRegistry()
            let pool = db.startPool(registry)
            let r = try await db.client(registry).enqueue(EnqueueRequest(kind: FanOutWorkflow.kind, input: #"{"width": 8}"#, actor: "test"))
            let run = try await db.waitForFinish(r.id)
            try await pool.stop()
            #expect(run.state == .succeeded)
            let detail = try #require(try await db.store.runDetail(id: r.id))
            #expect(detail.steps.count == 8)
            #expect(detail.steps.allSatisfy { $0.state == .succeeded })
            #expect(detail.steps.first { $0.name == "node:7" }?.result == "49")
        }
    }
}
