import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

/// `kaji validate` and `kaji apply` as real processes on a test schema of the real PostgreSQL (moved from
/// WorkflowsTests' ApplyTests).
@Suite("Apply", .serialized)
struct ApplyProcessTests {
    /// The demo manifest with `workers.replicas` set to `workers`.
    static func demoYAML(workers: Int) throws -> String {
        try ManifestRepo.example("demo.yaml").replacingOccurrences(of: "workers:\n  replicas: 2", with: "workers:\n  replicas: \(workers)")
    }

    /// Seeds the inventory with the demo cluster as `ready` with `workers` workers.
    static func seed(_ db: TestDatabase, workers: Int, state: String = "ready") async throws {
        var spec = try ManifestRepo.demoSpec()
        spec.workers.replicas = workers
        let now = Date()
        let nodes = spec.outlineNodes.enumerated().map { index, node in
            ClusterNode(name: node.name, role: node.role, serverID: "11300000000\(index)", address: node.address,
                        sshHost: "127.0.0.1", sshPort: 22, sshUser: "ubuntu")
        }
        try await ClusterInventory(store: db.store).upsert(ClusterRecord(
            name: spec.name, zone: spec.zone, spec: spec, state: state, switchID: "112900000001", apiEndpoint: "https://192.168.100.10:6443",
            nodes: nodes, ownerTeam: spec.owners.team, lastRunID: nil, createdAt: now, updatedAt: now))
    }

    @Test("kaji validate: exit 0 for a valid manifest, 1 with every problem, 2 for a missing file")
    func validateExitCodes() async throws {
        let valid = try await ManifestCLI.run(["validate", "-f", ManifestRepo.root.appendingPathComponent("examples/prod-a.yaml").path])
        #expect(valid.status == 0, "\(valid)")
        #expect(valid.stdout == "valid: cluster prod-a, 3 masters, 6 workers in is1a\n")

        let several = try #require(BadManifest.cases.first { $0.name == "several problems at once" })
        let path = try ManifestRepo.writeTemp(try several.yaml())
        let invalid = try await ManifestCLI.run(["validate", "-f", path])
        #expect(invalid.status == 1, "\(invalid)")
        #expect(invalid.stdout == several.expected.joined(separator: "\n") + "\n")
        #expect(invalid.stderr.contains("3 problems; nothing was changed"))

        let json = try await ManifestCLI.run(["validate", "-f", path, "--json"])
        #expect(json.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(report?["valid"] as? Bool == false)
        let problems = report?["problems"] as? [[String: Any]]
        #expect(problems?.map { $0["field"] as? String } == ["zone", "masters.replicas", "velero.schedule"])
        #expect(problems?.map { $0["line"] as? Int } == [6, 14, 28])

        let missing = try await ManifestCLI.run(["validate", "-f", "/nonexistent/cluster.yaml"])
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.contains("-f /nonexistent/cluster.yaml: no such file"))
    }

    @Test("no bad manifest enqueues anything through kaji apply", .needsDatabase)
    func badManifestsEnqueueNothing() async throws {
        try await TestDatabase.with { db in
            for bad in BadManifest.cases {
                let path = try ManifestRepo.writeTemp(try bad.yaml())
                let result = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
                #expect(result.status == 1, "\(bad.name): \(result)")
                #expect(result.stdout == bad.expected.joined(separator: "\n") + "\n", "\(bad.name)")
                #expect(result.stderr.contains("nothing was enqueued"), "\(bad.name)")
            }
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("applying the same manifest twice enqueues one provision run", .needsDatabase)
    func applyTwice() async throws {
        try await TestDatabase.with { db in
            let path = ManifestRepo.root.appendingPathComponent("examples/demo.yaml").path
            let first = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
            #expect(first.status == 0, "\(first)")
            #expect(first.stdout.contains("enqueued cluster.provision run "))
            #expect(first.stdout.contains(#"nightly backup: schedule backup:demo (created), cron "0 3 * * *" (UTC), cluster.backup to default, ttl 72h"#))
            let second = try await ManifestCLI.run(["apply", "-f", path, "--json"] + db.cliArguments)
            #expect(second.status == 0, "\(second)")
            let report = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any]
            #expect(report?["created"] as? Bool == false)
            #expect(report?["runState"] as? String == "pending")
            #expect(report?["backupSchedule"] as? String == "unchanged")
            let human = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
            #expect(human.stdout.contains("already enqueued: run "), "\(human)")
            #expect(human.stdout.contains(", pending (this manifest was applied before)"))

            // The nightly backup schedule, once.
            let schedules = try await db.store.listSchedules()
            #expect(schedules.map(\.name) == ["backup:demo"])
            let schedule = try #require(schedules.first)
            #expect(schedule.cron == "0 3 * * *")
            #expect(schedule.kind == ClusterKinds.backup)
            #expect(schedule.concurrencyKey == "cluster:demo")
            #expect(schedule.timezone == "UTC")
            #expect(try KajiJSON.decode([String: String].self, from: schedule.input) == ["cluster": "demo"])

            let runs = try await db.runs()
            #expect(runs.count == 1)
            let run = try #require(runs.first)
            #expect(run.kind == ClusterKinds.provision)
            #expect(run.concurrencyKey == "cluster:demo")
            let spec = try ManifestRepo.demoSpec()
            #expect(run.idempotencyKey == "apply:demo:" + ClusterApply.sha256(try ClusterApply.canonicalJSON(spec)))
            #expect(try KajiJSON.decode(ProvisionInput.self, from: run.input) == ProvisionInput(spec: spec))
            let enqueuedLine = first.stdout.split(separator: "\n").first { $0.hasPrefix("enqueued cluster.provision run ") }
            let firstID = enqueuedLine?.split(separator: " ").dropFirst(3).first.map(String.init)
            #expect((report?["runID"] as? String)?.lowercased() == firstID)
        }
    }

    @Test("more workers than the inventory has enqueues one scale-out", .needsDatabase)
    func scaleOut() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, workers: 2)
            let path = try ManifestRepo.writeTemp(try Self.demoYAML(workers: 4))
            for _ in 0..<2 {
                let result = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout.hasPrefix("scale out demo: workers.replicas 2 → 4\n"))
            }
            let runs = try await db.runs()
            #expect(runs.map(\.kind) == [ClusterKinds.scaleOut])
            #expect(runs.first?.concurrencyKey == "cluster:demo")
            #expect(try runs.first.map { try KajiJSON.decode(ScaleOutInput.self, from: $0.input).spec.workers.replicas } == 4)
        }
    }

    @Test("fewer workers than the inventory has is refused, naming the field", .needsDatabase)
    func shrinkRefused() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, workers: 4)
            let path = try ManifestRepo.writeTemp(try Self.demoYAML(workers: 2))
            let result = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout == "workers.replicas: shrinking from 4 to 2 is refused: apply only adds nodes for now; keep 4 or more\n")
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("other changes to an existing cluster are refused, naming each field", .needsDatabase)
    func immutableRefused() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, workers: 2)
            let yaml = try ManifestRepo.example("demo.yaml").replacingOccurrences(of: "zone: is1a", with: "zone: is1b")
                .replacingOccurrences(of: "  plan: {cpu: 2, memoryGB: 4}\n  diskGB: 20\nowners", with: "  plan: {cpu: 4, memoryGB: 8}\n  diskGB: 20\nowners")
            let result = try await ManifestCLI.run(["apply", "-f", try ManifestRepo.writeTemp(yaml)] + db.cliArguments)
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout == """
                zone: cannot change on an existing cluster ("is1a" → "is1b"): apply only adds nodes for now; set it back to "is1a"
                workers.plan: cannot change on an existing cluster ({"cpu":2,"memoryGB":4} → {"cpu":4,"memoryGB":8}): apply only adds nodes for now; set it back to {"cpu":2,"memoryGB":4}

                """)
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("the same manifest as the inventory: nothing to do", .needsDatabase)
    func nothingToDo() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, workers: 2)
            let result = try await ManifestCLI.run(["apply", "-f", ManifestRepo.root.appendingPathComponent("examples/demo.yaml").path] + db.cliArguments)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("nothing to do: cluster demo (ready) matches the manifest\n"))
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("a changed healthCheck.interval: the dry run shows it and changes nothing; apply records it with no run; again, nothing to do", .needsDatabase)
    func healthCheckIntervalRecorded() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, workers: 2)
            let inventory = ClusterInventory(store: db.store)
            let yaml = try ManifestRepo.example("demo.yaml") + "healthCheck:\n  interval: 5s\n"
            let path = try ManifestRepo.writeTemp(yaml)

            let dry = try await ManifestCLI.run(["apply", "-f", path, "--dry-run"] + db.cliArguments)
            #expect(dry.status == 0, "\(dry)")
            let lines = dry.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "update demo: healthCheck.interval 30s (default) → 5s")
            #expect(lines.contains("dry run: would record healthCheck.interval 5s in the inventory; nothing was changed"))
            #expect(try await inventory.get("demo")?.spec.healthCheck == nil)

            let json = try await ManifestCLI.run(["apply", "-f", path, "--dry-run", "--json"] + db.cliArguments)
            let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let plan = report?["plan"] as? [String: Any]
            #expect(plan?["action"] as? String == "update", "\(json)")
            #expect((plan?["settings"] as? [[String: String]])?.first == ["field": "healthCheck.interval", "from": "30s (default)", "to": "5s"])

            let applied = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
            #expect(applied.status == 0, "\(applied)")
            #expect(applied.stdout.contains("recorded healthCheck.interval 5s in the inventory\n"))
            let record = try #require(try await inventory.get("demo"))
            #expect(record.spec.healthCheck?.interval == "5s")
            #expect(HealthCheckInterval.of(record.spec) == .seconds(5), "what the workers' health checkers read")
            #expect(record.state == "ready" && record.nodes.count == 5, "the rest of the record is kept")
            var expected = try ManifestRepo.demoSpec()
            expected.healthCheck = .init(interval: "5s")
            #expect(record.spec == expected, "the rest of the manifest is kept")
            #expect(try await db.runCount() == 0)

            let again = try await ManifestCLI.run(["apply", "-f", path] + db.cliArguments)
            #expect(again.stdout.hasPrefix("nothing to do: cluster demo (ready) matches the manifest\n"), "\(again)")
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("--dry-run prints the plan of steps and enqueues nothing", .needsDatabase)
    func dryRun() async throws {
        try await TestDatabase.with { db in
            let path = ManifestRepo.root.appendingPathComponent("examples/demo.yaml").path
            let result = try await ManifestCLI.run(["apply", "-f", path, "--dry-run"] + db.cliArguments)
            #expect(result.status == 0, "\(result)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "new cluster demo: 3 masters, 2 workers in is1a")
            #expect(lines.contains { $0.hasPrefix("dry run: would enqueue cluster.provision (concurrency key cluster:demo, idempotency key apply:demo:") })
            for step in ["approval:", "create-switch:", "create-server:demo-master-1:", "create-disk:demo-worker-2: 20 GB from the Ubuntu archive, address 192.168.100.15",
                         "wait-up:demo-worker-2", "ssh-ready:", "kubeadm-init:demo-master-1:", "join-control-plane:demo-master-3:", "join-worker:demo-worker-1:",
                         "cni:", "readiness:", "inventory:", "owner-keys:"] {
                #expect(lines.contains { $0.contains(". " + step) }, "\(step)")
            }
            #expect(try await db.runCount() == 0)

            // A scale-out dry run lists only the new nodes, on the addresses after the existing ones.
            try await Self.seed(db, workers: 2)
            var yaml = try Self.demoYAML(workers: 3)
            yaml = yaml.replacingOccurrences(of: "masters:\n  replicas: 3", with: "masters:\n  replicas: 5")
            let scale = try await ManifestCLI.run(["apply", "-f", try ManifestRepo.writeTemp(yaml), "--dry-run", "--json"] + db.cliArguments)
            #expect(scale.status == 0, "\(scale)")
            let report = try JSONSerialization.jsonObject(with: Data(scale.stdout.utf8)) as? [String: Any]
            let plan = report?["plan"] as? [String: Any]
            #expect(plan?["action"] as? String == "scale-out")
            let steps = plan?["steps"] as? [String] ?? []
            #expect(steps.filter { $0.hasPrefix("create-disk:") } == [
                "create-disk:demo-master-4: 20 GB from the Ubuntu archive, address 192.168.100.16",
                "create-disk:demo-master-5: 20 GB from the Ubuntu archive, address 192.168.100.17",
                "create-disk:demo-worker-3: 20 GB from the Ubuntu archive, address 192.168.100.18",
            ])
            #expect(try await db.runCount() == 0)
        }
    }

    @Test("a different manifest while the cluster's provisioning is unfinished is refused", .needsDatabase)
    func changedWhileProvisioning() async throws {
        try await TestDatabase.with { db in
            let first = try await ManifestCLI.run(["apply", "-f", ManifestRepo.root.appendingPathComponent("examples/demo.yaml").path] + db.cliArguments)
            #expect(first.status == 0, "\(first)")
            let id = try #require(try await db.store.listRuns(state: nil, kind: nil, limit: 5).first?.id.uuidString.lowercased())
            let changed = try await ManifestCLI.run(["apply", "-f", try ManifestRepo.writeTemp(try Self.demoYAML(workers: 3))] + db.cliArguments)
            #expect(changed.status == 1, "\(changed)")
            #expect(changed.stdout == "name: cluster demo has an unfinished cluster.provision run \(id) (pending) from a different manifest: wait until it ends, or cancel it (kaji cancel \(id)), then apply again\n")
            #expect(try await db.runCount() == 1)
        }
    }

    @Test("a changed velero.schedule replaces the backup schedule; a dry run registers none", .needsDatabase)
    func scheduleFollowsManifest() async throws {
        try await TestDatabase.with { db in
            let demo = ManifestRepo.root.appendingPathComponent("examples/demo.yaml").path
            let dry = try await ManifestCLI.run(["apply", "-f", demo, "--dry-run"] + db.cliArguments)
            #expect(dry.stdout.contains("nightly backup: schedule backup:demo (not registered: dry run)"), "\(dry)")
            #expect(try await db.store.listSchedules().isEmpty)
            // An existing cluster whose schedule was set by hand to another time: apply puts the manifest's back.
            try await Self.seed(db, workers: 2)
            let request = ScheduleRequest(name: "backup:demo", cron: "15 1 * * *", kind: ClusterKinds.backup, input: #"{"cluster":"demo"}"#,
                                          concurrencyKey: "cluster:demo", actor: "test")
            _ = try await db.store.addSchedule(request, maxAttempts: 1)
            let result = try await ManifestCLI.run(["apply", "-f", demo] + db.cliArguments)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("nothing to do"))
            #expect(result.stdout.contains("nightly backup: schedule backup:demo (replaced)"))
            #expect(try await db.store.listSchedules().map(\.cron) == ["0 3 * * *"])
        }
    }

    @Test("kaji clusters and kaji cluster show read the inventory", .needsDatabase)
    func clustersAndShow() async throws {
        try await TestDatabase.with { db in
            let empty = try await ManifestCLI.run(["clusters"] + db.cliArguments)
            #expect(empty.status == 0, "\(empty)")
            #expect(empty.stdout.hasPrefix("no clusters"))
            try await Self.seed(db, workers: 2)
            let list = try await ManifestCLI.run(["clusters"] + db.cliArguments)
            #expect(list.status == 0, "\(list)")
            let rows = list.stdout.split(separator: "\n")
            #expect(rows.count == 2)
            #expect(rows.last?.split(separator: " ", omittingEmptySubsequences: true).prefix(6).map(String.init) == ["demo", "is1a", "ready", "3/3", "2/2", "platform"])
            let json = try await ManifestCLI.run(["clusters", "--json"] + db.cliArguments)
            #expect(try KajiJSON.decode([ClusterRecord].self, from: json.stdout).map(\.name) == ["demo"])

            let show = try await ManifestCLI.run(["cluster", "show", "demo"] + db.cliArguments)
            #expect(show.status == 0, "\(show)")
            #expect(show.stdout.contains("state          ready"))
            #expect(show.stdout.contains("demo-worker-2  worker  192.168.100.15"))
            let showJSON = try await ManifestCLI.run(["cluster", "show", "demo", "--json"] + db.cliArguments)
            #expect(try KajiJSON.decode(ClusterRecord.self, from: showJSON.stdout).spec == (try ManifestRepo.demoSpec()))
            let unknown = try await ManifestCLI.run(["cluster", "show", "nope"] + db.cliArguments)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no cluster named 'nope'"))
        }
    }
}
