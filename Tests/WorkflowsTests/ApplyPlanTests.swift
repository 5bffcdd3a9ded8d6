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
