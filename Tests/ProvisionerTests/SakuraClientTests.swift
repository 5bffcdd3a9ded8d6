import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Testing

@Suite("SAKURA Cloud client against the simulator", .timeLimit(.minutes(1)))
struct SakuraClientTests {
    @Test func authStatusPlansAndUbuntuArchive() async throws {
        try await withSimulator { _, client in
            let status = try await client.authStatus()
            #expect(status.permission == "create")
            #expect(status.accountID == "113000000001" && status.accountName == "kaji-sim")
            let plans = try await client.serverPlans()
            #expect(plans.contains { $0.cpu == 4 && $0.memoryMB == 8192 })
            let latest = try await client.findUbuntuArchive()
            #expect(latest.tags.contains("current-stable"))
            let noble = try await client.findUbuntuArchive(version: "24.04")
            #expect(noble.id == latest.id)
            let jammy = try await client.findUbuntuArchive(version: "22.04")
            #expect(jammy.name.contains("22.04"))
            let missing = await expectCloudError { _ = try await client.findUbuntuArchive(version: "18.04") }
            #expect(missing?.isNotFound == true)
        }
    }

    @Test func wrongCredentialsAreTypedAndNeverShowTheSecret() async throws {
        try await withSimulator { simulator, _ in
            let client = SakuraCloudClient(
                configuration: SakuraCloudConfiguration(
                    baseURL: simulator.baseURL,
                    credentials: SakuraCloudCredentials(accessToken: "tok", accessTokenSecret: "s3cr3t-value"),
                    retry: .none, rateLimiter: SakuraRateLimiter(requestsPerSecond: 0)))
            let error = await expectCloudError { _ = try await client.authStatus() }
            #expect(error?.status == 401)
            #expect(error?.code == "unauthorized")
            #expect(error?.description.contains("s3cr3t-value") == false)
            #expect(!"\(client.configuration.credentials)".contains("s3cr3t-value"))
        }
    }

    @Test func credentialsFromEnvironmentNameTheMissingVariable() throws {
        #expect(throws: SakuraCloudError.self) { try SakuraCloudCredentials.fromEnvironment([:]) }
        do {
            _ = try SakuraCloudCredentials.fromEnvironment(["SAKURACLOUD_ACCESS_TOKEN": "t"])
        } catch {
            #expect(error.description.contains("SAKURACLOUD_ACCESS_TOKEN_SECRET"))
        }
        let ok = try SakuraCloudCredentials.fromEnvironment(
            ["SAKURA_ACCESS_TOKEN": "t", "SAKURA_ACCESS_TOKEN_SECRET": "s"])
        #expect(ok.accessToken == "t")
        let configuration = try SakuraCloudConfiguration.fromEnvironment(
            ["SAKURACLOUD_ACCESS_TOKEN": "t", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "s", "SAKURACLOUD_ZONE": "tk1b",
             "KAJI_SAKURA_BASE_URL": "http://127.0.0.1:9"])
        #expect(configuration.zoneRoot == "http://127.0.0.1:9/cloud/zone/tk1b/api/cloud/1.1")
        #expect(throws: SakuraCloudError.self) {
            try SakuraCloudConfiguration.fromEnvironment(
                ["SAKURACLOUD_ACCESS_TOKEN": "t", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "s", "SAKURACLOUD_ZONE": "xx9"])
        }
    }

    @Test func switchServerDiskInterfacePowerAndDeleteLifecycle() async throws {
        // Manual clock: the "still copying" and "still booting" checks must not race a loaded machine.
        let power = SakuraPowerPolicy(bootRetrySpan: .milliseconds(20), initialRequestTimeout: .milliseconds(100))
        try await withSimulator(SakuraSimulatorConfiguration(clock: .manual), power: power) { simulator, client in
            let op = OperationTag(run: "run-1", step: "create-switch")
            let created = try await client.findOrCreateSwitch(SwitchSpec(name: "prod-sw", tags: ["k8s-cluster=prod"]), operation: op)
            #expect(!created.adopted)
            #expect(created.resource.tags == ["k8s-cluster=prod", op.tag])
            #expect(op.tag.count == 32)
            let again = try await client.findOrCreateSwitch(SwitchSpec(name: "prod-sw"), operation: op)
            #expect(again.adopted && again.resource.id == created.resource.id)
            let switchID = created.resource.id
            #expect(try await client.getSwitch(switchID).name == "prod-sw")
            #expect(try await client.findSwitches(FindQuery(filter: ["Name": .exact(["prod-sw"])])).count == 1)

            let server = try await client.findOrCreateServer(
                ServerSpec(name: "prod-master-01", tags: ["role=master"], cpu: 2, memoryMB: 4096,
                           connectedSwitches: [.switch(switchID), .shared]),
                operation: OperationTag(run: "run-1", step: "create-server:master-1")).resource
            #expect(server.status == .down)
            #expect(server.interfaces.count == 2)
            #expect(server.interfaces[0].switchID == switchID)
            #expect(server.interfaces[1].isShared && server.interfaces[1].ipAddress != nil)
            #expect(server.sshEndpoint()?.port == 22)
            #expect(server.sshEndpoint()?.user == "ubuntu")

            let archive = try await client.findUbuntuArchive()
            let disk = try await client.findOrCreateDisk(
                DiskSpec(name: "prod-master-01", sourceArchiveID: archive.id, serverID: server.id,
                         edit: DiskEdit(hostName: "prod-master-01", password: "pw-not-shown",
                                        sshPublicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE4x test"],
                                        userIPAddress: "192.168.100.11", defaultRoute: "192.168.100.1", networkMaskLength: 24)),
                operation: OperationTag(run: "run-1", step: "create-disk:master-1")).resource
            #expect(disk.availability == .migrating)
            #expect(!"\(DiskEdit(password: "pw-not-shown"))".contains("pw-not-shown"))

            // The first boot is retried on still_creating (every 20 ms here) until its time limit.
            let early = await expectCloudError { try await client.powerOn(server.id) }
            #expect(early?.code == "still_creating" && early?.status == 409)
            let copying = await expectCloudError { try await client.configureDisk(disk.id, DiskEdit(hostName: "x")) }
            #expect(copying?.code == "disk_is_copying")

            simulator.advance(seconds: 1)
            try await eventually("disk available", timeout: .seconds(5)) { try await client.checkDiskAvailable(disk.id).ready }
            try await client.configureDisk(disk.id, DiskEdit(hostName: "prod-master-01", userIPAddress: "192.168.100.11"))
            try await client.detachDisk(disk.id)
            try await client.attachDisk(disk.id, toServer: server.id)

            let nic = try await client.createInterface(serverID: server.id)
            try await client.connectInterfaceToShared(nic.id)
            try await client.disconnectInterface(nic.id)
            let twice = await expectCloudError { try await client.disconnectInterface(nic.id) }
            #expect(twice?.code == "res_already_disconnected")
            let sameSwitch = await expectCloudError { try await client.connectInterface(nic.id, toSwitch: switchID) }
            #expect(sameSwitch?.code == "connect_to_same_switch")

            try await client.powerOn(server.id)
            let check = try await client.checkServerStatus(server.id, is: .up)
            #expect(!check.ready && check.server.status == .down)
            simulator.advance(seconds: 1)
            try await eventually("server up", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .up).ready }
            let booted = try await client.getServer(server.id)
            #expect(booted.hostName == "prod-master-01")
            #expect(booted.interfaces[0].userIPAddress == "192.168.100.11")
            let again409 = await expectCloudError { try await client.powerOn(server.id) }
            #expect(again409?.code == "conflict" && again409?.status == 409, "\(String(describing: again409))")
            let running = await expectCloudError { _ = try await client.deleteServer(server.id) }
            #expect(running?.code == "server_power_must_be_down")
            let used = await expectCloudError { _ = try await client.deleteSwitch(switchID) }
            #expect(used?.code == "res_used_in_zone")
            #expect(used?.description.contains("409") == true)

            try await client.powerOff(server.id)
            #expect(try await client.getServer(server.id).status == .cleaning)
            simulator.advance(seconds: 1)
            try await eventually("server down", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .down).ready }
            #expect(try await client.deleteServer(server.id, withDisks: [disk.id]))
            #expect(try await client.deleteServer(server.id) == false)
            #expect(try await client.deleteSwitch(switchID))
            let state = try await fetchState(simulator)
            #expect(count(state, "Servers") == 0 && count(state, "Disks") == 0 && count(state, "Switches") == 0)
        }
    }

    @Test func notFoundIsTypedAndReadable() async throws {
        try await withSimulator { _, client in
            let error = await expectCloudError { _ = try await client.getServer("113999999999") }
            #expect(error?.status == 404)
            #expect(error?.code == "not_found")
            #expect(error?.serial?.isEmpty == false)
            #expect(error?.isRetryable == false)
            #expect(error?.description.contains("GET /server/113999999999 in zone is1a") == true)
            let deleted = try await client.deleteDisk("113999999998")
            #expect(deleted == false)
        }
    }

    @Test func findFiltersByTagsAndNames() async throws {
        try await withSimulator { _, client in
            for name in ["a-node", "b-node"] {
                _ = try await client.createServer(
                    ServerSpec(name: name, tags: ["k8s-cluster=prod", "role=\(name)"], cpu: 1, memoryMB: 1024))
            }
            #expect(try await client.findServers(.tagged("k8s-cluster=prod")).count == 2)
            #expect(try await client.findServers(.tagged("k8s-cluster=prod", "role=a-node")).count == 1)
            #expect(try await client.findServers(FindQuery(filter: ["Name": .partial("node")])).count == 2)
            #expect(try await client.findServers(FindQuery(filter: ["Name": .exact(["b-node"])])).first?.name == "b-node")
            #expect(try await client.findServers(FindQuery(count: 1)).count == 1)
        }
    }

    @Test func badPlanAndQuotaAreFinal() async throws {
        var configuration = SakuraSimulatorConfiguration()
        configuration.quotas.maxServers = 1
        try await withSimulator(configuration) { _, client in
            let plan = await expectCloudError { _ = try await client.createServer(ServerSpec(name: "x", cpu: 3, memoryMB: 1000)) }
            #expect(plan?.status == 400)
            _ = try await client.createServer(ServerSpec(name: "one", cpu: 1, memoryMB: 1024))
            let quota = await expectCloudError {
                _ = try await client.findOrCreateServer(
                    ServerSpec(name: "two", cpu: 1, memoryMB: 1024), operation: OperationTag(run: "r", step: "s"))
            }
            #expect(quota?.code == "limit_count_in_account")
            #expect(quota?.isRetryable == false)
        }
    }
}
