import Engine
import Foundation
import KajiTesting
import Provisioner
import Testing
@testable import Workflows

/// `cluster.backup` and `cluster.restore` end to end: real PostgreSQL, an in-process worker pool, the real
/// sshd with the simulated node tools, a cluster seeded into the inventory.
@Suite("Backup and restore workflows", .timeLimit(.minutes(3)))
struct BackupTests {
    typealias F = BackupFixtures

    static func registry(_ services: ClusterServices) -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        registry.register(BackupWorkflow(services: services, pollEvery: .milliseconds(200), retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(100))))
        registry.register(RestoreWorkflow(services: services, pollEvery: .milliseconds(200), retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(100))))
        return registry
    }

    static func backups(_ ssh: SSHExecutor, _ cluster: F.Cluster) async throws -> [String: [String: Any]] {
        let state = try await F.worldState(ssh, cluster)
        let world = try #require(state["cluster"] as? [String: Any])
        return world["backups"] as? [String: [String: Any]] ?? [:]
    }

    static func restores(_ ssh: SSHExecutor, _ cluster: F.Cluster) async throws -> [String: [String: Any]] {
        let state = try await F.worldState(ssh, cluster)
        let world = try #require(state["cluster"] as? [String: Any])
        return world["restores"] as? [String: [String: Any]] ?? [:]
    }

    @Test(.needsDatabaseAndSSHD) func completedBackupSucceedsWithItemCountsUnderADefaultName() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            let output = try KajiJSON.decode(BackupOutput.self, from: try #require(detail.output))
            #expect(output.phase == .completed)
            #expect(output.totalItems == 42 && output.itemsBackedUp == 42)
            #expect(output.errors == 0 && output.warnings == 0)
            #expect(output.node == "\(cluster.name)-master-1")
            // NAME-YYYYMMDD-HHMMSS
            let stamp = output.backup.dropFirst(cluster.name.count + 1)
            #expect(output.backup.hasPrefix(cluster.name + "-") && stamp.count == 15)
            #expect(stamp.enumerated().allSatisfy { $0.offset == 8 ? $0.element == "-" : $0.element.isNumber })
            #expect(detail.steps.map(\.name) == ["resolve", "create-backup", "backup-phase", "check-phase"])

            let backups = try await Self.backups(ssh, cluster)
            #expect(Array(backups.keys) == [output.backup])
            let made = try #require(backups[output.backup])
            #expect((made["labels"] as? [String: String])?[VeleroRunLabel.key] == id.uuidString.lowercased())
            #expect(made["storageLocation"] as? String == "default" && made["ttl"] as? String == "720h0m0s")
        }
    }

    @Test(.needsDatabaseAndSSHD) func partiallyFailedBackupFailsTheRunWithVelerosMessages() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            try await F.simNode(ssh, cluster, "set backup-phase PartiallyFailed")
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "nightly-1"))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .failed)
            let error = try #require(detail.run.lastError)
            #expect(error.contains("backup 'nightly-1' of cluster \(cluster.name) ended PartiallyFailed: 1 error(s), 1 warning(s)"))
            #expect(error.contains("41 of 42 items backed up"))
            #expect(error.contains("app: error backing up persistentvolumeclaims/app/data: volume snapshot failed"))
            #expect(error.contains("warnings: app: pods/app/web-0 has no volume snapshotter"))
            let check = try #require(detail.steps.first { $0.name == "check-phase" })
            #expect(check.state == .failed && check.attempts == 1)
            #expect(try await Self.backups(ssh, cluster).count == 1)
        }
    }

    @Test(.needsDatabaseAndSSHD) func failedBackupFailsTheRunWithTheFailureReason() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            try await F.simNode(ssh, cluster, "set backup-phase Failed")
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "before-upgrade"))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .failed)
            let error = try #require(detail.run.lastError)
            #expect(error.contains("ended Failed"))
            #expect(error.contains("failure reason: BackupStorageLocation \"default\" is unavailable"))
            #expect(error.contains("errors: Velero: error getting backup storage location"))
            #expect(error.contains("0 of 42 items backed up"))
            #expect(detail.steps.first { $0.name == "check-phase" }?.attempts == 1)
        }
    }

    /// A backup still running after `--wait` returned: the run waits durably (no slot) and finishes once the
    /// phase is final, having created one backup.
    @Test(.needsDatabaseAndSSHD) func inProgressBackupIsPolledDurablyUntilCompleted() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            try await F.simNode(ssh, cluster, "set backup-phase InProgress")
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "slow-1"))
            try await eventually("the run waits on backup-phase", timeout: .seconds(60)) {
                let detail = try await env.store.runDetail(id: id)
                return detail?.run.state == .waiting && detail?.steps.contains { $0.name == "backup-phase" && ($0.wait ?? "").contains("slow-1 is InProgress") } == true
            }
            try await F.simNode(ssh, cluster, "backup-phase slow-1 Completed")
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            #expect(try KajiJSON.decode(BackupOutput.self, from: try #require(detail.output)).phase == .completed)
            #expect(try await Self.backups(ssh, cluster).count == 1)
        }
    }

    /// The state a crash leaves behind (the backup exists, its step result was never stored): the run adopts
    /// the backup it made instead of creating a second one. A backup of that name made by anybody else is
    /// refused.
    @Test(.needsDatabaseAndSSHD) func aRunAdoptsItsOwnBackupAndRefusesSomeoneElses() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            let registry = Self.registry(F.services(env, ssh: ssh))
            let own = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "mine"))
            _ = try await ssh.runChecked(
                Velero.backupCreateCommand(name: "mine", storageLocation: nil, ttl: nil, labels: [VeleroRunLabel.key: own.uuidString.lowercased()]),
                on: cluster.master, deadline: .seconds(20))
            _ = try await ssh.runChecked(Velero.backupCreateCommand(name: "theirs", storageLocation: nil, ttl: nil), on: cluster.master, deadline: .seconds(20))
            let other = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: cluster.name, name: "theirs"))

            let pool = F.startPool(env, registry)
            let adopted = try await F.waitForFinish(env, own)
            let refused = try await F.waitForFinish(env, other)
            try await pool.stop()

            #expect(adopted.run.state == .succeeded, "\(adopted.run.lastError ?? "")")
            let created = try #require(adopted.steps.first { $0.name == "create-backup" }?.result)
            #expect(try KajiJSON.decode(BackupWorkflow.Created.self, from: created).created == false)
            #expect(refused.run.state == .failed)
            #expect(refused.run.lastError?.contains("name: a backup named 'theirs' already exists") == true)
            #expect(refused.steps.first { $0.name == "create-backup" }?.attempts == 1)
            #expect(Set(try await Self.backups(ssh, cluster).keys) == ["mine", "theirs"])
        }
    }

    /// The manifest's nightly schedule (`ClusterBackupSchedule`, registered by `kaji apply`) enqueues
    /// `{"cluster": NAME}`; a tick makes one backup under the default name, with the cluster's key.
    @Test(.needsDatabaseAndSSHD) func theManifestsScheduleRunsThisWorkflow() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            let schedule = try #require(ClusterBackupSchedule(spec: cluster.record.spec))
            try await schedule.register(with: KajiClient(store: env.store, catalog: .kaji), actor: "test:backup")
            try await env.client.query("UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE name = \(schedule.name)", logger: env.logger)
            let firings = try await env.store.enqueueDueSchedules(actor: "test:backup")
            let firing = try #require(firings.first)
            #expect(firings.count == 1 && firing.schedule == "backup:\(cluster.name)")

            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let detail = try await F.waitForFinish(env, firing.runID)
            try await pool.stop()
            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            #expect(detail.run.kind == ClusterKinds.backup && detail.run.concurrencyKey == "cluster:\(cluster.name)")
            let output = try KajiJSON.decode(BackupOutput.self, from: try #require(detail.output))
            #expect(output.backup.hasPrefix(cluster.name + "-") && output.phase == .completed)
            #expect(Array(try await Self.backups(ssh, cluster).keys) == [output.backup])
        }
    }

    @Test(.needsDatabaseAndSSHD) func unknownClusterFailsAtOnceNamingTheField() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.backup", input: BackupInput(cluster: "no-such-cluster"))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()
            #expect(detail.run.state == .failed)
            #expect(detail.run.lastError?.contains("cluster: no cluster named 'no-such-cluster' in the inventory") == true)
            #expect(detail.steps.first?.attempts == 1)
        }
    }

    @Test(.needsDatabaseAndSSHD) func restoreFromABackupCompletes() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            _ = try await ssh.runChecked(Velero.backupCreateCommand(name: "nightly-7", storageLocation: nil, ttl: nil), on: cluster.master, deadline: .seconds(20))
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let id = try await F.enqueue(env, registry, kind: "cluster.restore", input: RestoreInput(cluster: cluster.name, backup: "nightly-7"))
            let detail = try await F.waitForFinish(env, id)
            try await pool.stop()

            #expect(detail.run.state == .succeeded, "\(detail.run.lastError ?? "")")
            let output = try KajiJSON.decode(RestoreOutput.self, from: try #require(detail.output))
            #expect(output.phase == .completed && output.backup == "nightly-7")
            #expect(output.totalItems == 42 && output.itemsRestored == 42)
            #expect(output.restore.hasPrefix("nightly-7-") && output.restore.count == "nightly-7-".count + 14)
            let restores = try await Self.restores(ssh, cluster)
            #expect(Array(restores.keys) == [output.restore])
            #expect((restores[output.restore]?["labels"] as? [String: String])?[VeleroRunLabel.key] == id.uuidString.lowercased())
            #expect(restores[output.restore]?["backup"] as? String == "nightly-7")
        }
    }

    @Test(.needsDatabaseAndSSHD) func failedRestoreAndMissingBackupFailTheRun() async throws {
        try await F.with { env in
            let ssh = try F.ssh(env)
            let cluster = try await F.seedCluster(env, ssh: ssh)
            _ = try await ssh.runChecked(Velero.backupCreateCommand(name: "nightly-8", storageLocation: nil, ttl: nil), on: cluster.master, deadline: .seconds(20))
            try await F.simNode(ssh, cluster, "set restore-phase PartiallyFailed")
            let registry = Self.registry(F.services(env, ssh: ssh))
            let pool = F.startPool(env, registry)
            let partial = try await F.enqueue(env, registry, kind: "cluster.restore", input: RestoreInput(cluster: cluster.name, backup: "nightly-8"))
            let missing = try await F.enqueue(env, registry, kind: "cluster.restore", input: RestoreInput(cluster: cluster.name, backup: "nightly-9"))
            let partialDetail = try await F.waitForFinish(env, partial)
            let missingDetail = try await F.waitForFinish(env, missing)
            try await pool.stop()

            #expect(partialDetail.run.state == .failed)
            let error = try #require(partialDetail.run.lastError)
            #expect(error.contains("restore 'nightly-8-") && error.contains("ended PartiallyFailed"))
            #expect(error.contains("41 of 42 items restored") && error.contains("volume snapshot failed"))
            #expect(missingDetail.run.state == .failed)
            #expect(missingDetail.run.lastError?.contains("backup: cluster \(cluster.name) has no backup named 'nightly-9'") == true)
            #expect(missingDetail.steps.first { $0.name == "create-restore" }?.attempts == 1)
            #expect(try await Self.restores(ssh, cluster).count == 1)
        }
    }

    @Test func badInputIsRefusedBeforeEnqueueNamingTheField() throws {
        // The catalog checks inputs with no service built.
        let registry = WorkflowCatalog.clusterOperations
        #expect(registry.kinds.contains("cluster.backup") && registry.kinds.contains("cluster.restore") && registry.kinds.contains("cluster.rotate-password"))
        for (kind, input, field) in [
            ("cluster.backup", #"{"cluster": "Prod_A"}"#, "cluster"),
            ("cluster.backup", #"{"cluster": "prod-a", "name": "-nightly"}"#, "name"),
            ("cluster.backup", #"{"cluster": "prod-a", "name": "\#(String(repeating: "a", count: 64))"}"#, "name"),
            ("cluster.restore", #"{"cluster": "prod-a", "backup": "a b"}"#, "backup"),
            ("cluster.restore", #"{"cluster": "prod-a"}"#, "backup"),
            ("cluster.rotate-password", #"{"cluster": ""}"#, "cluster"),
        ] {
            do {
                try registry.validate(kind: kind, input: input)
                Issue.record("\(kind) \(input) was accepted")
            } catch let error as KajiError {
                #expect(error.code == .invalidInput)
                #expect(error.message.contains(field), "\(error.message)")
            }
        }
        try registry.validate(kind: "cluster.backup", input: #"{"cluster": "prod-a", "name": "prod-a-20261126-030000"}"#)
        #expect(BackupInput(cluster: "prod-a").concurrencyKey == "cluster:prod-a")
        #expect(RestoreInput(cluster: "prod-a", backup: "b").concurrencyKey == "cluster:prod-a")
        #expect(RotatePasswordInput(cluster: "prod-a").concurrencyKey == "cluster:prod-a")
    }

    @Test func defaultNamesFitVelerosLimit() {
        let date = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18 ... UTC
        let name = BackupNames.timestamped("prod-a", at: date)
        #expect(name.count == "prod-a-".count + 15)
        let long = BackupNames.timestamped(String(repeating: "x", count: 70), at: date)
        #expect(long.count == 63 && BackupNames.isValid(long))
        #expect(RestoreWorkflow.restoreName(backup: "nightly", at: date).count == "nightly-".count + 14)
    }

    @Test func veleroStatusAndDescribeParsers() throws {
        let json = """
            {"kind": "Backup", "metadata": {"name": "b", "labels": {"kaji-run": "r1"}},
             "status": {"phase": "PartiallyFailed", "errors": 2, "warnings": 1, "progress": {"totalItems": 10, "itemsBackedUp": 8}}}
            """
        let status = try Velero.parseStatus(json: json)
        #expect(status.phase == .partiallyFailed && status.errors == 2 && status.warnings == 1)
        #expect(status.totalItems == 10 && status.itemsDone == 8 && status.labels["kaji-run"] == "r1")
        #expect(try Velero.parseStatus(json: #"{"status": {}}"#).phase == .new)
        #expect(try Velero.parseStatus(json: #"{"kind": "BackupList", "items": [{"status": {"phase": "Failed", "failureReason": "x"}}]}"#).failureReason == "x")
        #expect(throws: VeleroParseError.self) { try Velero.parseStatus(json: "An error occurred") }
        let describe = """
            Name:         b
            Phase:  PartiallyFailed (run `velero backup logs b` for more information)

            Errors:
              Velero:     <none>
              Cluster:    <none>
              Namespaces:
                app:  error backing up pvc/app/data: snapshot failed

            Warnings:
              Velero:     skipped 2 items
              Cluster:    <none>
              Namespaces: <none>

            Namespaces:
              Included:  *
            """
        let problems = Velero.parseProblems(describe)
        #expect(problems.errors == ["app: error backing up pvc/app/data: snapshot failed"])
        #expect(problems.warnings == ["Velero: skipped 2 items"])
        #expect(Velero.parseProblems("Errors:    0\nWarnings:  0\n") == VeleroProblems())
    }

}

extension BackupTests {
    /// A vault for registration tests that never stores anything.
    struct NoVault: PasswordVault {
        func store(_ value: String, name: String, in step: StepContext) async throws -> String {
            throw WorkflowError("no vault in this test", nonRetryable: true)
        }
    }
}
