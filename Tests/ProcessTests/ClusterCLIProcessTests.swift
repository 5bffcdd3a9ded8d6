import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Testing
import Workflows

/// `kaji enqueue` and `kaji signal` as real processes on a schema of their own (issue 9, item 4; moved from
/// WorkflowsTests' ClusterCLITests).
@Suite("kaji enqueue and signal: cluster concurrency keys, approval payloads", .timeLimit(.minutes(3)), .needsDatabase)
struct ClusterCLIProcessTests {
    func count(_ db: TestDatabase, _ query: PostgresQuery) async throws -> Int {
        for try await n in try await db.store.client.query(query, logger: db.store.logger).decode(Int.self) { return n }
        return 0
    }

    @Test("kaji enqueue of a cluster kind takes cluster:NAME, as kaji apply does; a different --concurrency-key is refused naming it")
    func enqueueTakesTheClusterKey() async throws {
        try await TestDatabase.with { db in
            let backup = try await ManifestCLI.run(["enqueue", ClusterKinds.backup, "--input", #"{"cluster": "prod-a"}"#, "--json"] + db.cliArguments)
            #expect(backup.status == 0, "\(backup)")
            let spec = testClusterSpec(name: "prod-b", masters: 1, workers: 1)
            let scaleInput = try KajiJSON.string(ScaleOutInput(spec: spec))
            let scale = try await ManifestCLI.run(["enqueue", ClusterKinds.scaleOut, "--input", scaleInput] + db.cliArguments)
            #expect(scale.status == 0, "\(scale)")
            let same = try await ManifestCLI.run(["enqueue", ClusterKinds.delete, "--input", #"{"name": "prod-a"}"#, "--concurrency-key", "cluster:prod-a"] + db.cliArguments)
            #expect(same.status == 0, "\(same)")
            let diag = try await ManifestCLI.run(["enqueue", "diag.steps", "--input", "{}"] + db.cliArguments)
            #expect(diag.status == 0, "\(diag)")

            let runs = try await db.runs()
            #expect(runs.map(\.kind) == [ClusterKinds.backup, ClusterKinds.scaleOut, ClusterKinds.delete, "diag.steps"])
            #expect(runs.map(\.concurrencyKey) == ["cluster:prod-a", "cluster:prod-b", "cluster:prod-a", nil])
            // The same key kaji apply gives a scale-out of that manifest.
            #expect(runs[1].concurrencyKey == spec.concurrencyKey)

            let other = try await ManifestCLI.run(["enqueue", ClusterKinds.backup, "--input", #"{"cluster": "prod-a"}"#, "--concurrency-key", "nightly"] + db.cliArguments)
            #expect(other.status == 2, "\(other)")
            #expect(other.stderr.contains("--concurrency-key 'nightly'") && other.stderr.contains("cluster:prod-a"), "\(other)")
            #expect(try await db.runCount() == 4, "nothing was enqueued")
        }
    }

    @Test("a signal named approval whose payload is not an approval is refused at kaji signal (exit 2, naming the field) and not stored")
    func approvalSignalMustBeAnApproval() async throws {
        try await TestDatabase.with { db in
            var registry = WorkflowRegistry()
            registry.register(DiagWorkflow())
            let run = try await KajiClient(store: db.store, catalog: registry.catalog).enqueue(EnqueueRequest(kind: "diag.steps", actor: "test")).id
            let runArg = run.uuidString.lowercased()

            let wrongField = try await ManifestCLI.run(["signal", runArg, "approval", "--payload", #"{"approve": true}"#] + db.cliArguments)
            #expect(wrongField.status == 2, "\(wrongField)")
            #expect(wrongField.stderr.contains("--payload") && wrongField.stderr.contains("'approved'"), "\(wrongField)")

            let wrongType = try await ManifestCLI.run(["signal", runArg, "approval", "--payload", #"{"approved": "yes"}"#] + db.cliArguments)
            #expect(wrongType.status == 2, "\(wrongType)")
            #expect(wrongType.stderr.contains("'approved'"), "\(wrongType)")

            let noReason = try await ManifestCLI.run(["signal", runArg, "approval", "--payload", #"{"approved": false}"#] + db.cliArguments)
            #expect(noReason.status == 2, "\(noReason)")
            #expect(noReason.stderr.contains("'reason'"), "\(noReason)")

            #expect(try await count(db, "SELECT count(*)::int FROM signals") == 0, "no refused signal was stored")

            let good = try await ManifestCLI.run(["signal", runArg, "approval", "--payload", #"{"approved": true, "reason": "ok"}"#] + db.cliArguments)
            #expect(good.status == 0, "\(good)")
            let other = try await ManifestCLI.run(["signal", runArg, "disk-ready", "--payload", #"{"anything": 1}"#] + db.cliArguments)
            #expect(other.status == 0, "\(other)")
            #expect(try await count(db, "SELECT count(*)::int FROM signals") == 2)
        }
    }
}
