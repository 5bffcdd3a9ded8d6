import Engine
import Foundation
import KajiTesting
import Provisioner
import Testing
@testable import Workflows

@Suite("Node plan: names and addresses")
struct NodePlanTests {
    @Test("masters first, then workers, on consecutive addresses from nodeAddressStart")
    func consecutive() throws {
        let nodes = try NodePlan.nodes(for: testClusterSpec(name: "prod-a"))
        #expect(nodes.map(\.name) == ["prod-a-master-1", "prod-a-master-2", "prod-a-master-3", "prod-a-worker-1", "prod-a-worker-2"])
        #expect(nodes.map(\.address) == (11...15).map { "192.168.100.\($0)" })
        #expect(nodes.map(\.role) == [.master, .master, .master, .worker, .worker])
    }

    @Test("the VIP is skipped; existing nodes keep their addresses; new nodes take the lowest free ones")
    func scaleOutAddresses() throws {
        var spec = testClusterSpec(name: "c", masters: 1, workers: 1)
        spec.network.nodeAddressStart = "192.168.100.9"
        let first = try NodePlan.nodes(for: spec)
        #expect(first.map(\.address) == ["192.168.100.9", "192.168.100.11"])
        let existing = first.map { ClusterNode(name: $0.name, role: $0.role, serverID: "1", address: $0.address, sshHost: "h", sshPort: 22, sshUser: "u") }
        spec.masters.replicas = 3
        spec.workers.replicas = 2
        let missing = try NodePlan.missing(for: spec, existing: existing)
        #expect(missing.map(\.name) == ["c-master-2", "c-master-3", "c-worker-2"])
        #expect(missing.map(\.address) == ["192.168.100.12", "192.168.100.13", "192.168.100.14"])
    }

    @Test("errors name the field")
    func errors() throws {
        var spec = testClusterSpec(name: "c")
        spec.network.nodeAddressStart = "10.0.0.1"
        #expect(throws: WorkflowError.self) { try NodePlan.nodes(for: spec) }
        do { _ = try NodePlan.nodes(for: spec) } catch { #expect("\(error)".contains("network.nodeAddressStart")) }
        spec.network.nodeAddressStart = "192.168.100.252"
        do { _ = try NodePlan.nodes(for: spec); Issue.record("expected the subnet to run out") } catch { #expect("\(error)".contains("no free address")) }
        spec.network.subnet = "192.168.100.0"
        do { _ = try NodePlan.nodes(for: spec); Issue.record("expected a bad subnet") } catch { #expect("\(error)".contains("network.subnet")) }
    }

    @Test("kube-vip uses super-admin.conf during init from Kubernetes 1.29")
    func kubeVIP() {
        #expect(KubeVIP.needsSuperAdmin(kubernetesVersion: "1.33.2"))
        #expect(KubeVIP.needsSuperAdmin(kubernetesVersion: "v1.29"))
        #expect(!KubeVIP.needsSuperAdmin(kubernetesVersion: "1.28.9"))
        let manifest = KubeVIP.manifest(vip: "192.168.100.10", interface: "eth1", image: "img", superAdmin: true)
        #expect(manifest.contains("path: /etc/kubernetes/super-admin.conf"))
        #expect(manifest.contains(#"{name: address, value: "192.168.100.10"}"#))
    }
}


@Suite("Test manifests are valid")
struct TestSpecValidityTests {
    @Test func testSpecsPassValidation() {
        #expect(testClusterSpec(name: "prod-a").problems().map(\.description) == [])
        #expect(testClusterSpec(name: "grow-a", masters: 1, workers: 4).problems().map(\.description) == [])
    }
}
