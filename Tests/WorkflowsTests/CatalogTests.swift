import Engine
import Foundation
import Testing
import Workflows

/// The cluster kinds in the catalog: what `kaji enqueue` and `kaji apply` check against, with no cloud,
/// SSH or database service built.
@Suite("Workflow catalog of the cluster operations", .timeLimit(.minutes(1)))
struct CatalogTests {
    @Test("every cluster kind is in the catalog with its approval, undo and key rules")
    func clusterKinds() throws {
        let catalog = WorkflowCatalog.kaji
        #expect(catalog.kinds == ["cluster.backup", "cluster.delete", "cluster.provision", "cluster.restore", "cluster.rotate-password",
                                  "cluster.scale-out", "diag.secret", "diag.steps"])
        let provision = try catalog.entry(ClusterKinds.provision)
        #expect(provision.hasCompensation && provision.approval == .distinctApprover && provision.inputType == "ProvisionInput")
        #expect(try catalog.entry(ClusterKinds.delete).approval == .distinctApprover)
        #expect(try catalog.entry(ClusterKinds.scaleOut).hasCompensation)
        #expect(try catalog.entry(ClusterKinds.backup).approval == .none)
        #expect(try catalog.concurrencyKey(kind: ClusterKinds.delete, input: #"{"name": "prod-a"}"#, given: nil) == "cluster:prod-a")
    }

    @Test("a different concurrency key is refused naming the field concurrencyKey, not a flag")
    func keyRuleNamesTheField() throws {
        do {
            _ = try WorkflowCatalog.kaji.concurrencyKey(kind: ClusterKinds.backup, input: #"{"cluster": "prod-a"}"#, given: "nightly")
            Issue.record("a foreign key was accepted")
        } catch let error as KajiError {
            #expect(error.code == .invalidArgument && error.field == "concurrencyKey")
            #expect(error.message.hasPrefix("concurrencyKey 'nightly' does not fit cluster.backup") && !error.message.contains("--"))
        }
    }

    @Test("a manifest's refusal maps to an engine error naming the manifest path")
    func refusalNamesTheManifestPath() {
        let refused = ApplyRefused(cluster: "prod-a", problems: [ManifestProblem(field: "workers.replicas", reason: "shrinking from 3 to 2 is refused")])
        #expect(refused.kajiError.code == .manifestInvalid && refused.kajiError.field == "workers.replicas")
    }
}
