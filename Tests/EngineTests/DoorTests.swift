import Engine
import Foundation
import KajiTesting
import Testing

/// The door every face uses: the catalog checks requests with no service built, and errors name the
/// offending field in the caller's terms (`queue`), which the CLI maps to its flags (`--queue`).
@Suite("One door: catalog and client errors", .timeLimit(.minutes(1)))
struct DoorTests {
    @Test("the catalog validates an input with no workflow instance and no service")
    func catalogValidatesWithoutServices() throws {
        let catalog = WorkflowCatalog.diagnostics
        #expect(catalog.kinds == ["diag.secret", "diag.steps"])
        try catalog.validate(kind: "diag.steps", input: #"{"steps": 2}"#)
        do {
            try catalog.validate(kind: "diag.steps", input: #"{"steps": "two"}"#)
            Issue.record("a string for steps was accepted")
        } catch let error as KajiError {
            #expect(error.code == .invalidInput && error.field == "input")
            #expect(error.message.contains("steps"), "\(error.message)")
        }
        #expect(throws: KajiError.self) { try catalog.validate(kind: "no.such", input: "{}") }
        do {
            _ = try catalog.entry("no.such")
        } catch let error as KajiError {
            #expect(error.code == .unknownKind && error.field == "kind" && error.message.contains("diag.steps"))
        }
    }

    @Test("a catalog entry says what a client needs: retry policy, undo steps, approval, key rule")
    func catalogEntries() throws {
        let registry = testRegistry()
        let catalog = registry.catalog
        #expect(catalog.kinds == registry.kinds)
        let compensating = try catalog.entry(CompensatingTestWorkflow.kind)
        let diag = try catalog.entry("diag.steps")
        #expect(compensating.hasCompensation && !diag.hasCompensation)
        #expect(catalog.hasCompensation(kind: CompensatingTestWorkflow.kind) && !catalog.hasCompensation(kind: "no.such"))
        #expect(try catalog.retryPolicy(kind: ResumeWorkflow.kind).maxAttempts == 2)
        #expect(try catalog.entry("diag.steps").approval == .none)
        #expect(try catalog.concurrencyKey(kind: "diag.steps", input: "{}", given: "k") == "k")
    }

    @Test("KajiClient errors name the field (queue, priority, concurrencyKey), never a CLI flag")
    func errorsNameFields() throws {
        let cases: [(EnqueueRequest, String)] = [
            (EnqueueRequest(kind: "diag.steps", queue: "no spaces", actor: "test"), "queue"),
            (EnqueueRequest(kind: "diag.steps", priority: 40_000, actor: "test"), "priority"),
            (EnqueueRequest(kind: "diag.steps", idempotencyKey: "", actor: "test"), "idempotencyKey"),
            (EnqueueRequest(kind: "diag.steps", concurrencyKey: "", actor: "test"), "concurrencyKey"),
            (EnqueueRequest(kind: "diag.steps", input: "[", actor: "test"), "input"),
            (EnqueueRequest(kind: "no.such", actor: "test"), "kind"),
        ]
        for (request, field) in cases {
            do {
                _ = try KajiClient.check(request, catalog: .diagnostics)
                Issue.record("\(request) was accepted")
            } catch let error as KajiError {
                #expect(error.field == field, "\(error)")
                #expect(!error.message.contains("--"), "names a flag: \(error.message)")
            }
        }
        do {
            _ = try KajiClient.check(EnqueueRequest(kind: "diag.steps", queue: "a b", actor: "test"), catalog: .diagnostics)
        } catch let error as KajiError {
            #expect(error.message == "queue 'a b' is not valid: use 1-100 letters, digits and - _ . :")
            // How the CLI names it.
            #expect(error.message(naming: { $0 == "queue" ? "--queue" : nil }) == "--queue 'a b' is not valid: use 1-100 letters, digits and - _ . :")
        }
    }

    @Test("schedule checks name cron and timezone as fields")
    func scheduleFields() throws {
        for (request, field) in [
            (ScheduleRequest(name: "s", cron: "0 25 * * *", kind: "diag.steps", actor: "t"), "cron"),
            (ScheduleRequest(name: "s", cron: "0 3 * * *", timezone: "Mars/Olympus", kind: "diag.steps", actor: "t"), "timezone"),
            (ScheduleRequest(name: "bad name", cron: "0 3 * * *", kind: "diag.steps", actor: "t"), "name"),
        ] {
            do {
                _ = try KajiClient.check(request, catalog: .diagnostics)
                Issue.record("\(request.name) was accepted")
            } catch let error as KajiError {
                #expect(error.field == field && !error.message.contains("--"), "\(error)")
            }
        }
        #expect(throws: KajiError.self) { try AuditHead.parse("1:abc") }
        #expect(try KajiClient.age("1d12h") == .seconds(129_600))
        do {
            _ = try KajiClient.age("soon")
        } catch let error as KajiError {
            #expect(error.field == "olderThan" && error.message.hasPrefix("olderThan 'soon'"))
        }
    }

    @Test("an error encodes as {code, message, field}, the HTTP API's error document")
    func errorDocument() throws {
        let error = KajiError(.invalidArgument, "queue 'a b' is not valid", field: "queue")
        #expect(try KajiJSON.string(ErrorDocument(error)) == #"{"error":{"code":"invalid_argument","field":"queue","message":"queue 'a b' is not valid"}}"#)
        #expect(try KajiJSON.string(KajiError(.runNotFound, "no run")) == #"{"code":"run_not_found","message":"no run"}"#)
        #expect(try KajiJSON.decode(ErrorDocument.self, from: KajiJSON.string(ErrorDocument(error))) == ErrorDocument(error))
    }

    @Test("through the database: the client's errors name fields (queue, payload, run)", .needsDatabase)
    func clientAndCLI() async throws {
        try await TestDatabase.with { db in
            let client = db.client(testRegistry())
            do {
                _ = try await client.enqueue(EnqueueRequest(kind: "diag.steps", queue: "a b", actor: "test"))
                Issue.record("a bad queue was accepted")
            } catch let error as KajiError {
                #expect(error.field == "queue" && error.message.hasPrefix("queue 'a b'"))
            }
            let run = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test"))
            do {
                try await client.signal(runID: run.id, name: "approval", payload: #"{"approved": false}"#, sender: "test")
                Issue.record("a rejection without a reason was accepted")
            } catch let error as KajiError {
                #expect(error.field == "payload.reason" && error.message.hasPrefix("payload field 'reason'"))
            }
            do {
                _ = try await client.run(id: UUID())
                Issue.record("an unknown run was found")
            } catch let error as KajiError {
                #expect(error.code == .runNotFound && error.field == "run")
            }
            #expect(try await client.runs(RunQuery(limit: 10)).count == 1)
        }
    }
}
