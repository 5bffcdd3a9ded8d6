import Engine
import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Testing
@testable import Workflows

/// The cluster workflows against the simulator's SAKURA Cloud rules (tag limits, numeric IDs, the disk
/// edit on NIC 0, the SDK's boot protocol), end to end.
@Suite("Cluster workflows on the stricter simulator", .serialized, .timeLimit(.minutes(3)), .needsDatabaseAndSSHD)
struct CloudConformanceTests {
    @Test("a cluster named with 40 characters provisions and deletes: every tag within 10 × 32 characters, the private address on NIC 0, boots retried as the SDK does")
    func fortyCharacterClusterName() async throws {
        let name = "payments-" + String(repeating: "x", count: 26) + "-prod"
        #expect(name.count == 40)
        // Two boots answered 409 still_creating, then one accepted but never carried out; and one lost answer
        // of each create, which adopt-by-tag must resolve to exactly the resource it created.
        let faults = try FaultRule.parseList("PUT /server/*/power=still_creating,times=2;PUT /server/*/power=dropped,times=1;"
            + "POST /switch=500,after,times=1;POST /server=timeout,after,times=1;POST /disk=reset,after,times=1")
        try await ClusterTestEnvironment.with(faults: faults) { env in
            let spec = testClusterSpec(name: name, masters: 1, workers: 1)
            #expect(spec.problems().isEmpty)
            let pool = env.startPool()
            let id = try await env.enqueueApproved(kind: ClusterKinds.provision, input: ProvisionInput(spec: spec))
            let run = try await env.waitForFinish(id, timeout: .seconds(120))
            #expect(run.state == .succeeded, "\(run.lastError ?? "")")

            let switches = try await env.resources("Switches")
            let servers = try await env.resources("Servers")
            let disks = try await env.resources("Disks")
            #expect(switches.count == 1 && servers.count == 2 && disks.count == 2)
            let runID = id.uuidString.lowercased()
            for resource in switches + servers + disks {
                let tags = resource["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
                #expect(tags.count <= 10 && tags.allSatisfy { $0.count <= 32 }, "\(tags)")
                #expect(tags.contains(ClusterTags.cluster(name)) && tags.contains(ClusterTags.run(id)))
                #expect(tags.contains { $0.hasPrefix("kaji-op=") })
                // The full run id and step name are readable in the description.
                #expect(resource["Description"]?.stringValue?.contains("kaji-op \(runID)/create-") == true)
            }
            #expect(ClusterTags.cluster(name).count == 32 && ClusterTags.cluster(name) != ClusterTags.cluster(name + "x"))
            let switchID = try #require(switches.first?["ID"]?.idValue)
            let record = try #require(try await env.services.inventory.get(name))
            for server in servers {
                let nics = server["Interfaces"]?.arrayValue ?? []
                #expect(nics.count == 2)
                #expect(nics.first?["Switch"]?["ID"]?.idValue == switchID, "NIC 0 is on the private switch")
                let node = record.nodes.first { $0.name == server["Name"]?.stringValue }
                #expect(node != nil && nics.first?["UserIPAddress"]?.stringValue == node?.address, "the disk edit's address lands on NIC 0")
                #expect(nics.last?["Switch"]?["Scope"]?.stringValue == "shared")
            }
            let fired = (try await env.cloudState()["FaultsFired"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(fired.filter { $0.contains("still_creating") }.count == 2 && fired.filter { $0.contains("dropped") }.count == 1, "\(fired)")
            for resource in ["switch", "server", "disk"] {
                #expect(fired.contains { $0.hasPrefix("POST /\(resource) ") && $0.hasSuffix(" after") }, "an answer to POST /\(resource) was lost: \(fired)")
            }

            let delete = try await env.enqueueApproved(kind: ClusterKinds.delete, input: DeleteInput(name: name))
            let deleted = try await env.waitForFinish(delete)
            try await pool.stop()
            #expect(deleted.state == .succeeded, "\(deleted.lastError ?? "")")
            #expect(try await env.resources("Servers").isEmpty)
            #expect(try await env.resources("Disks").isEmpty)
            #expect(try await env.resources("Switches").isEmpty)
            let detail = try #require(try await env.store.runDetail(id: delete))
            #expect(detail.steps.contains { $0.name == "delete:switch-unused" && $0.state == .succeeded })
            #expect(try await env.services.inventory.get(name)?.state == "deleted")
        }
    }
}
