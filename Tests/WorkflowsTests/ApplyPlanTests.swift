import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

/// The apply decision itself, without processes.
@Suite("ApplyPlan")
struct ApplyPlanTests {
    @Test("a deleted cluster is provisioned again under a new key; failed and deleting clusters are refused")
    func states() throws {
        let spec = try ManifestRepo.demoSpec()
        let fresh = try ClusterApply.plan(spec, existing: nil)
        #expect(fresh.action == .provision)
        func record(_ state: String) -> ClusterRecord {
            ClusterRecord(name: "demo", zone: "is1a", spec: spec, state: state, switchID: nil, apiEndpoint: nil, nodes: [], ownerTeam: nil,
                          lastRunID: UUID(), createdAt: Date(), updatedAt: Date())
        }
        let again = try ClusterApply.plan(spec, existing: record("deleted"))
        #expect(again.action == .provision)
        #expect(again.idempotencyKey != fresh.idempotencyKey)
        #expect(again.idempotencyKey?.hasPrefix("apply:demo:") == true)
        #expect(throws: ApplyRefused.self) { try ClusterApply.plan(spec, existing: record("failed")) }
        #expect(throws: ApplyRefused.self) { try ClusterApply.plan(spec, existing: record("deleting")) }
        #expect(try ClusterApply.plan(spec, existing: record("provisioning")).action == .none)
    }

    @Test("a changed healthCheck.interval is a settings update with no run; the same interval written otherwise is nothing; with more nodes, a scale-out that carries it")
    func healthCheckInterval() throws {
        let spec = try ManifestRepo.demoSpec()
        func record(_ spec: ClusterSpec) -> ClusterRecord {
            ClusterRecord(name: "demo", zone: "is1a", spec: spec, state: "ready", switchID: nil, apiEndpoint: nil, nodes: [], ownerTeam: nil,
                          lastRunID: UUID(), createdAt: Date(), updatedAt: Date())
        }
        var faster = spec
        faster.healthCheck = .init(interval: "5s")
        let update = try ClusterApply.plan(faster, existing: record(spec))
        #expect(update.action == .update)
        #expect(update.kind == nil && update.input == nil && update.idempotencyKey == nil)
        #expect(update.summary == "update demo: healthCheck.interval 30s (default) → 5s")
        #expect(update.settings == [ApplyPlan.SettingChange(field: "healthCheck.interval", from: "30s (default)", to: "5s")])
        #expect(update.steps == ["record healthCheck.interval 5s in the inventory (no run)"])

        // Back to the default, by removing the field.
        let back = try ClusterApply.plan(spec, existing: record(faster))
        #expect(back.action == .update && back.settings?.first?.to == "30s (default)")

        // The same interval in other words, or the default spelt out: nothing to do.
        var minute = spec, seconds = spec, explicit = spec
        minute.healthCheck = .init(interval: "1m")
        seconds.healthCheck = .init(interval: "60s")
        explicit.healthCheck = .init(interval: "30s")
        #expect(try ClusterApply.plan(seconds, existing: record(minute)).action == .none)
        #expect(try ClusterApply.plan(explicit, existing: record(spec)).action == .none)

        // More workers and a new interval: the scale-out, with the setting apply records itself.
        var grown = faster
        grown.workers.replicas = 3
        let scale = try ClusterApply.plan(grown, existing: record(spec))
        #expect(scale.action == .scaleOut)
        #expect(scale.summary == "scale out demo: workers.replicas 2 → 3, healthCheck.interval 30s (default) → 5s")
        #expect(scale.settings?.map(\.field) == ["healthCheck.interval"])

        // While a scale-out is unfinished (it records its own manifest when it ends), the setting is refused.
        let scaling = ActiveClusterRun(id: UUID(), kind: ClusterKinds.scaleOut, state: .running, idempotencyKey: "apply:demo:other")
        let refused = #expect(throws: ApplyRefused.self) { try ClusterApply.plan(faster, existing: record(spec), active: [scaling]) }
        #expect(refused?.problems.map(\.field) == ["healthCheck.interval"])
        #expect(refused?.problems.first?.reason.contains("unfinished cluster.scale-out run") == true)
        // A backup does not record a manifest: the setting goes ahead.
        let backup = ActiveClusterRun(id: UUID(), kind: ClusterKinds.backup, state: .running, idempotencyKey: nil)
        #expect(try ClusterApply.plan(faster, existing: record(spec), active: [backup]).action == .update)

        // An invalid interval is refused naming the field, as before.
        var bad = spec
        bad.healthCheck = .init(interval: "0s")
        #expect(throws: ApplyRefused.self) { try ClusterApply.plan(bad, existing: record(spec)) }
    }

    @Test("an invalid spec is refused even when it did not come from YAML")
    func invalidSpec() throws {
        var spec = try ManifestRepo.demoSpec()
        spec.masters.replicas = 2
        #expect(throws: ApplyRefused.self) { try ClusterApply.plan(spec, existing: nil) }
    }

    @Test("the backup schedule comes from velero.schedule")
    func backupSchedule() throws {
        let spec = try ManifestRepo.demoSpec()
        let schedule = try #require(ClusterBackupSchedule(spec: spec))
        #expect(schedule.name == "backup:demo")
        #expect(schedule.cron == "0 3 * * *")
        #expect(schedule.kind == "cluster.backup")
        #expect(schedule.concurrencyKey == "cluster:demo")
        #expect(schedule.input == #"{"cluster":"demo"}"#)
        var none = spec
        none.velero?.schedule = nil
        #expect(ClusterBackupSchedule(spec: none) == nil)
    }
}
