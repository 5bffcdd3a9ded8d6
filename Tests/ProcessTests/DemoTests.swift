import Engine
import Foundation
import KajiTesting
import Testing

@Suite("kaji demo", .timeLimit(.minutes(3)))
struct DemoTests {
    @Test("the demo runs diag workflows on worker processes and prints each run's step history", .needsDatabase)
    func demoOnGivenDatabase() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let result = try await KajiProcess.run(["demo", "--workflow", "diag", "--runs", "3", "--steps", "2"] + db.cliArguments, timeout: .seconds(120))
            #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
            #expect(result.stdout.contains("demo finished: 3 runs succeeded"))
            #expect(result.stdout.contains("progress: 3/3 runs finished, 6/6 steps"))
            #expect(result.stdout.contains("step-2"))
            #expect(result.stdout.contains("run.succeeded"))
            // The run that fails its first attempts shows them in its history.
            #expect(result.stdout.contains("injected failure: attempt 1"))
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == 3)
        }
    }

    @Test("the cluster demo provisions examples/demo.yaml on the simulator with worker processes, approved by a second user", .needsDatabase)
    func clusterDemo() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let result = try await KajiProcess.run(["demo"] + db.cliArguments, timeout: .seconds(240))
            #expect(result.status == 0, "stdout: \(result.stdout.suffix(3000)) stderr: \(result.stderr.suffix(2000))")
            #expect(result.stdout.contains("cli:alice@demo applies"))
            #expect(result.stdout.contains("cli:bob@demo approves run"))
            #expect(result.stdout.contains("kubeadm-init:demo-master-1"))
            #expect(result.stdout.contains("cluster demo provisioned, 5 nodes (3 control-plane), 5 servers, 5 disks, 1 switch"))
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM clusters WHERE name = 'demo' AND state = 'ready'") == 1)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE kind = 'cluster.provision' AND state = 'succeeded'") == 1)
        }
    }

    @Test("the cluster demo names sakura-sim when it cannot find it, before starting anything")
    func missingSimulator() async throws {
        let result = try await KajiProcess.run(["demo"], environment: ["DATABASE_URL": "", "KAJI_SAKURA_SIM": "/nonexistent/sakura-sim"], timeout: .seconds(60))
        #expect(result.status == 1, "stderr: \(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("KAJI_SAKURA_SIM=/nonexistent/sakura-sim is not an executable file"))
        #expect(!result.stderr.contains("starting a private PostgreSQL"))
    }

    @Test("without a database the demo starts and stops a private PostgreSQL")
    func demoWithPrivateServer() async throws {
        let result = try await KajiProcess.run(["demo", "--workflow", "diag", "--runs", "1", "--steps", "1"], environment: ["DATABASE_URL": ""], timeout: .seconds(120))
        #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("starting a private PostgreSQL"))
        #expect(result.stdout.contains("demo finished: 1 runs succeeded"))
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("(data in ") })
        let dir = try #require(line.split(separator: "(data in ").last?.dropLast())
        #expect(!FileManager.default.fileExists(atPath: String(dir)), "the private server's folder is removed")
    }
}
