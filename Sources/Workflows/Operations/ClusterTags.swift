import Engine
import Foundation
import Provisioner

/// The tags every cloud resource of a cluster carries (besides the create's own operation tag
/// `kaji-op=<hash of run/step>`): `kaji-cluster=<name>` (delete finds everything by it), `kaji-run=<hash>`
/// (compensation finds what one run created), and for nodes `kaji-role=…` and `kaji-node=…`.
///
/// SAKURA Cloud takes at most 10 tags of at most 32 characters (``SakuraTags``). A node carries 5 tags. A
/// run is tagged with 16 hex digits of SHA-256 of its id (25 characters). A cluster or node name too long
/// for its tag is shortened deterministically: the start of the name, `~` and 8 hex digits of SHA-256 of
/// the whole name (``SakuraTags/fitting(_:_:)``); names up to 19 (cluster) or 22 (node) characters are
/// kept whole. The full names, run id and step are in each resource's `Name` and `Description`.
public enum ClusterTags {
    public static func cluster(_ name: String) -> String { SakuraTags.fitting("kaji-cluster=", name) }
    public static func run(_ id: UUID) -> String { "kaji-run=" + SakuraTags.digest(id.uuidString.lowercased(), hexDigits: 16) }
    public static func role(_ role: ClusterNode.Role) -> String { "kaji-role=\(role.rawValue)" }
    public static func node(_ name: String) -> String { SakuraTags.fitting("kaji-node=", name) }

    /// The tags of the cluster switch.
    static func forSwitch(cluster: String, run: UUID) -> [String] {
        [Self.cluster(cluster), Self.run(run)]
    }

    /// The tags of a node's server and disk.
    static func forNode(_ node: PlannedNode, cluster: String, run: UUID) -> [String] {
        [Self.cluster(cluster), Self.run(run), role(node.role), Self.node(node.name)]
    }
}

/// Step names of one pass of a run. A provision or scale-out that was torn down by its compensation and
/// then retried (`kaji retry`) builds again under fresh step names: pass 2 prefixes every name with
/// `g2/`, and so on. The first pass has plain names (`create-server:prod-a-master-1`).
struct StepNames: Sendable {
    let generation: Int

    /// The pass after the last finished teardown of this run.
    init(context: WorkflowContext) throws {
        var generation = 1
        while try context.result(of: Self.teardownDone(generation: generation), as: IgnoredResult.self) != nil {
            generation += 1
        }
        self.generation = generation
    }

    /// The name of `step` in this pass.
    func callAsFunction(_ step: String) -> String {
        generation == 1 ? step : "g\(generation)/\(step)"
    }

    /// `step:node` in this pass.
    func callAsFunction(_ step: String, _ node: String) -> String {
        self("\(step):\(node)")
    }

    /// The last step of a pass's teardown; its success starts the next pass.
    static func teardownDone(generation: Int) -> String {
        generation == 1 ? "undo:done" : "g\(generation)/undo:done"
    }

    var teardownDone: String { Self.teardownDone(generation: generation) }

    /// The operation tag of one of this pass's steps.
    func operation(_ step: String, context: WorkflowContext) -> OperationTag {
        OperationTag(run: context.runID.uuidString.lowercased(), step: step)
    }
}

/// Any stored step result, read only to learn whether the step succeeded.
struct IgnoredResult: Decodable {
    init(from decoder: any Decoder) throws {}
}
