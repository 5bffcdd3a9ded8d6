import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore
import NIOHTTP1
import Provisioner
import SakuraSimulator
import Testing

@Suite("Simulator protocol and state machine", .timeLimit(.minutes(1)))
struct SimulatorTests {
    /// A raw call, to check what the client never sends.
    func raw(
        _ simulator: SakuraSimulator, _ method: HTTPMethod, _ path: String, body: String? = nil,
        headers: [String: String] = [:], auth: Bool = true
    ) async throws -> (status: Int, body: JSONValue) {
        var request = HTTPClientRequest(url: simulator.baseURL + "/cloud/zone/is1a/api/cloud/1.1" + path)
        request.method = method
        if auth { request.headers.add(name: "Authorization", value: "Basic " + Data("kaji-sim-token:kaji-sim-secret".utf8).base64EncodedString()) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), try JSONValue.parse(Data(bytes.readableBytesView)))
    }

    @Test func manualClockMovesOnlyByAdvance() async throws {
        var configuration = SakuraSimulatorConfiguration(profile: .realistic, clock: .manual)
        configuration.profile.latencySeconds = 0...0
        try await withSimulator(configuration) { simulator, client in
            let archive = try await client.findUbuntuArchive()
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024))
            let disk = try await client.createDisk(
                DiskSpec(name: "d", sourceArchiveID: archive.id, serverID: server.id, bootAtAvailable: true))
            #expect(try await client.checkDiskAvailable(disk.id).ready == false)
            simulator.advance(seconds: 30)
            let halfway = try await client.checkDiskAvailable(disk.id)
            #expect(!halfway.ready && (halfway.disk.migratedMB ?? 0) > 0)
            var request = HTTPClientRequest(url: simulator.baseURL + "/_fake/advance?seconds=300")
            request.method = .POST
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            #expect(try await client.checkDiskAvailable(disk.id).ready)
            // BootAtAvailable booted the server once the copy ended, within the boot time.
            #expect(try await client.checkServerStatus(server.id, is: .up).ready)
        }
    }

    @Test func idsAreStringsUnlessBigintHeader() async throws {
        try await withSimulator { simulator, _ in
            let plain = try await raw(simulator, .POST, "/switch", body: #"{"Switch":{"Name":"a"}}"#)
            #expect(plain.status == 201)
            #expect(plain.body["Switch"]?["ID"]?.stringValue != nil)
            let numeric = try await raw(simulator, .GET, "/switch", headers: ["X-Sakura-Bigint-As-Int": "1"])
            guard case .number = numeric.body["Switches"]?.arrayValue?.first?["ID"] else {
                Issue.record("expected a numeric ID with X-Sakura-Bigint-As-Int: 1, got \(numeric.body)")
                return
            }
        }
    }

    @Test func unknownEnvelopeKeysAndMissingAuthAreRejected() async throws {
        try await withSimulator { simulator, _ in
            let unknown = try await raw(simulator, .POST, "/switch", body: #"{"Switch":{"Name":"a"},"Bogus":1}"#)
            #expect(unknown.status == 400 && unknown.body["error_code"]?.stringValue == "invalid_format")
            let noAuth = try await raw(simulator, .GET, "/auth-status", auth: false)
            #expect(noAuth.status == 401)
            let badPath = try await raw(simulator, .GET, "/nothing-here")
            #expect(badPath.status == 404 && badPath.body["error_code"]?.stringValue == "resource_path_not_found")
            let disk = try await raw(simulator, .POST, "/disk", body: #"{"Disk":{"Name":"d","SizeMB":20480}}"#)
            #expect(disk.status == 202 && disk.body["Success"]?.stringValue == "Accepted")
        }
    }

    @Test func planChangeSwitchServersResetAndInterfaceDelete() async throws {
        try await withSimulator { simulator, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            let server = try await client.createServer(
                ServerSpec(name: "m", cpu: 1, memoryMB: 1024, connectedSwitches: [.switch(sw.id)]))
            let listed = try await raw(simulator, .GET, "/switch/\(sw.id)/server")
            #expect(listed.body["Servers"]?.arrayValue?.first?["ID"]?.stringValue == server.id.rawValue)
            let reset = try await raw(simulator, .PUT, "/server/\(server.id)/reset")
            #expect(reset.status == 409 && reset.body["error_code"]?.stringValue == "server_power_must_be_up")
            let renamed = try await raw(simulator, .PUT, "/server/\(server.id)", body: #"{"Server":{"Name":"m2","Tags":["x"]}}"#)
            #expect(renamed.body["Server"]?["Name"]?.stringValue == "m2")
            let plan = try await raw(simulator, .PUT, "/server/\(server.id)/plan", body: #"{"CPU":2,"MemoryMB":4096}"#)
            let newID = try #require(plan.body["Server"]?["ID"]?.stringValue)
            #expect(newID != server.id.rawValue)
            let moved = try await client.getServer(SakuraID(newID))
            #expect(moved.cpu == 2 && moved.interfaces.count == 1)
            let gone = await expectCloudError { _ = try await client.getServer(server.id) }
            #expect(gone?.isNotFound == true)
            let deleted = try await raw(simulator, .DELETE, "/interface/\(moved.interfaces[0].id)")
            #expect(deleted.status == 200)
            #expect(try await client.deleteSwitch(sw.id))
        }
    }

    @Test func wrongZoneIsNotFound() async throws {
        try await withSimulator { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024))
            let other = SakuraCloudClient(
                configuration: SakuraCloudConfiguration(
                    baseURL: simulator.baseURL, zone: "tk1a", credentials: client.configuration.credentials,
                    retry: .none, rateLimiter: SakuraRateLimiter(requestsPerSecond: 0)))
            let error = await expectCloudError { _ = try await other.getServer(server.id) }
            #expect(error?.code == "not_found" && error?.zone == "tk1a")
        }
    }

    @Test func conflictRulesOfDisksInterfacesAndPower() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(clock: .manual)) { simulator, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            let server = try await client.createServer(
                ServerSpec(name: "m", cpu: 1, memoryMB: 1024, connectedSwitches: [.shared, .switch(sw.id)]))
            let down = await expectCloudError { try await client.powerOff(server.id) }
            #expect(down?.code == "server_power_must_be_up")
            let nic = server.interfaces[1]
            let connected = await expectCloudError { try await client.connectInterface(nic.id, toSwitch: sw.id) }
            #expect(connected?.code == "res_already_connected")
            let archive = try await client.findUbuntuArchive()
            let disk = try await client.createDisk(DiskSpec(name: "d", sourceArchiveID: archive.id))
            let copying = await expectCloudError { try await client.attachDisk(disk.id, toServer: server.id) }
            #expect(copying?.code == "disk_is_copying")
            let deleting = await expectCloudError { _ = try await client.deleteDisk(disk.id) }
            #expect(deleting?.code == "disk_is_copying")
            simulator.advance(seconds: 1)
            try await eventually("disk available", timeout: .seconds(5)) { try await client.checkDiskAvailable(disk.id).ready }
            try await client.attachDisk(disk.id, toServer: server.id)
            let twice = await expectCloudError { try await client.attachDisk(disk.id, toServer: server.id) }
            #expect(twice?.code == "res_already_connected")
            try await client.powerOn(server.id)
            simulator.advance(seconds: 1)
            try await eventually("up", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .up).ready }
            let addNIC = await expectCloudError { _ = try await client.createInterface(serverID: server.id) }
            #expect(addNIC?.code == "server_power_must_be_down")
            try await client.powerOff(server.id, force: true)
            #expect(try await client.getServer(server.id).status == .cleaning)
            simulator.advance(seconds: 1)
            #expect(try await client.getServer(server.id).status == .down)
        }
    }

    @Test func resetForgetsResourcesAndSimulatedNodesAreReported() async throws {
        let configuration = SakuraSimulatorConfiguration(nodes: SimulatedNodes(port: 2222, world: "w-test"))
        try await withSimulator(configuration) { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024))
            let archive = try await client.findUbuntuArchive()
            _ = try await client.createDisk(
                DiskSpec(name: "d", sourceArchiveID: archive.id, serverID: server.id, edit: DiskEdit(hostName: "master-1")))
            let endpoint = try await client.getServer(server.id).sshEndpoint()
            #expect(endpoint == SSHEndpoint(host: "127.0.0.1", port: 2222,
                                            environment: ["KAJI_SIM_WORLD": "w-test", "KAJI_NODE": "master-1"]))
            simulator.reset()
            let state = try await fetchState(simulator)
            #expect(count(state, "Servers") == 0 && count(state, "Disks") == 0)
        }
    }

    @Test func powerCallBurstAnswersBusy() async throws {
        var configuration = SakuraSimulatorConfiguration(clock: .manual)
        configuration.profile.powerCallsPerSecond = 1
        try await withSimulator(configuration, retry: .none) { _, client in
            let a = try await client.createServer(ServerSpec(name: "a", cpu: 1, memoryMB: 1024))
            let b = try await client.createServer(ServerSpec(name: "b", cpu: 1, memoryMB: 1024))
            try await client.powerOn(a.id)
            let busy = await expectCloudError { try await client.powerOn(b.id) }
            #expect(busy?.status == 503 && busy?.code == "busy" && busy?.isRetryable == true)
        }
    }
}
