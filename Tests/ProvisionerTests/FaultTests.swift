import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Testing

@Suite("Injected faults", .timeLimit(.minutes(1)))
struct FaultTests {
    func faults(_ spec: String) throws -> SakuraSimulatorConfiguration {
        SakuraSimulatorConfiguration(faults: try FaultRule.parseList(spec))
    }

    @Test(arguments: ["busy", "too_many_request", "locked", "reset"])
    func retryableFaultOnGetIsRetriedThenSucceeds(kind: String) async throws {
        try await withSimulator(try faults("GET /auth-status=\(kind),times=2")) { simulator, client in
            let status = try await client.authStatus()
            #expect(status.permission == "create")
            let fired = try await fetchState(simulator)["FaultsFired"]?.arrayValue ?? []
            #expect(fired.count == 2)
        }
    }

    @Test func retriesGiveUpWithTheLastErrorAndAttemptCount() async throws {
        try await withSimulator(try faults("GET /auth-status=busy,times=20")) { _, client in
            let error = await expectCloudError { _ = try await client.authStatus() }
            #expect(error?.status == 503 && error?.code == "busy")
            #expect(error?.attempts == 5)
            #expect(error?.description.contains("after 5 attempts") == true)
        }
    }

    @Test func status503HonoursRetryAfter() async throws {
        let retry = SakuraRetryPolicy(maxRetries: 3, minWait: .milliseconds(1), maxWait: .seconds(3))
        try await withSimulator(try faults("GET /auth-status=busy,retry-after=1"), retry: retry) { _, client in
            let started = ContinuousClock.now
            _ = try await client.authStatus()
            #expect(ContinuousClock.now - started >= .milliseconds(950))
        }
    }

    @Test func retryAfterIsCappedByMaxWait() {
        let policy = SakuraRetryPolicy(maxRetries: 3, minWait: .milliseconds(100), maxWait: .seconds(2))
        #expect(policy.wait(beforeRetry: 0, retryAfterSeconds: nil) == .milliseconds(100))
        #expect(policy.wait(beforeRetry: 3, retryAfterSeconds: nil) == .milliseconds(800))
        #expect(policy.wait(beforeRetry: 10, retryAfterSeconds: nil) == .seconds(2))
        #expect(policy.wait(beforeRetry: 0, retryAfterSeconds: 1) == .seconds(1))
        #expect(policy.wait(beforeRetry: 0, retryAfterSeconds: 60) == .seconds(2))
    }

    @Test(arguments: ["timeout", "reset", "busy", "500"])
    func afterFaultOnServerCreateLeavesExactlyOneServer(kind: String) async throws {
        try await withSimulator(try faults("POST /server=\(kind),after")) { simulator, client in
            let result = try await client.findOrCreateServer(
                ServerSpec(name: "m1", cpu: 2, memoryMB: 4096), operation: OperationTag(run: "r1", step: "create-server:m1"))
            #expect(result.adopted)
            let state = try await fetchState(simulator)
            #expect(count(state, "Servers") == 1)
            #expect(state["FaultsFired"]?.arrayValue?.count == 1)
        }
    }

    @Test(arguments: ["timeout", "reset", "too_many_request"])
    func afterFaultOnDiskCreateLeavesExactlyOneDisk(kind: String) async throws {
        try await withSimulator(try faults("POST /disk=\(kind),after")) { simulator, client in
            let archive = try await client.findUbuntuArchive()
            let result = try await client.findOrCreateDisk(
                DiskSpec(name: "d1", sourceArchiveID: archive.id), operation: OperationTag(run: "r1", step: "create-disk:m1"))
            #expect(result.adopted)
            #expect(count(try await fetchState(simulator), "Disks") == 1)
        }
    }

    @Test func beforeFaultOnCreateCreatesOnceAfterRetry() async throws {
        try await withSimulator(try faults("POST /switch=busy,before,times=2")) { simulator, client in
            let result = try await client.findOrCreateSwitch(SwitchSpec(name: "sw"), operation: OperationTag(run: "r", step: "sw"))
            #expect(!result.adopted)
            #expect(count(try await fetchState(simulator), "Switches") == 1)
        }
    }

    @Test func plainCreateIsNeverResentByItself() async throws {
        try await withSimulator(try faults("POST /server=timeout,after")) { simulator, client in
            let error = await expectCloudError { _ = try await client.createServer(ServerSpec(name: "x", cpu: 1, memoryMB: 1024)) }
            #expect(error?.status == 504 && error?.code == "apiproxy_timeout_non_get")
            #expect(error?.mayHaveRun == true)
            #expect(error?.attempts == 1)
            let state = try await fetchState(simulator)
            #expect(count(state, "Servers") == 1)
        }
    }

    @Test func lostPowerOnAnswerIsNotResentButTheBootRan() async throws {
        try await withSimulator(try faults("PUT /server/*/power=reset,after")) { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "x", cpu: 1, memoryMB: 1024))
            // The request arrived (the connection broke after it): a power call is not sent twice.
            let lost = await expectCloudError { try await client.powerOn(server.id) }
            guard case .transport = lost?.kind else {
                Issue.record("expected a transport error, got \(String(describing: lost))")
                return
            }
            #expect(lost?.attempts == 1 && lost?.notDelivered == false)
            try await eventually("server up", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .up).ready }
            #expect(try await fetchState(simulator)["FaultsFired"]?.arrayValue?.count == 1)
        }
    }

    @Test func lostConnectAnswersCountAsDone() async throws {
        try await withSimulator(try faults("PUT /interface/*/to/switch/*=reset,after;DELETE /disk/*/to/server=busy,after")) { simulator, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024, connectedSwitches: [.none]))
            try await client.connectInterface(server.interfaces[0].id, toSwitch: sw.id)
            #expect(try await client.getServer(server.id).interfaces[0].switchID == sw.id)
            let disk = try await client.createDisk(DiskSpec(name: "d", serverID: server.id))
            try await client.detachDisk(disk.id)
            #expect(try await client.getDisk(disk.id).serverID == nil)
            #expect(try await fetchState(simulator)["FaultsFired"]?.arrayValue?.count == 2)
        }
    }

    @Test func hangRunsIntoTheRequestTimeout() async throws {
        try await withSimulator(
            try faults("GET /auth-status=hang"), retry: .none, requestTimeout: .milliseconds(300)
        ) { _, client in
            let started = ContinuousClock.now
            let error = await expectCloudError { _ = try await client.authStatus() }
            guard case .transport = error?.kind else {
                Issue.record("expected a transport error, got \(String(describing: error))")
                return
            }
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test func failedDiskCopyIsAFinalTypedError() async throws {
        try await withSimulator(try faults("POST /disk=copyfail")) { _, client in
            let archive = try await client.findUbuntuArchive()
            let disk = try await client.createDisk(DiskSpec(name: "d", sourceArchiveID: archive.id))
            var failure: SakuraCloudError?
            try await eventually("disk copy failed", timeout: .seconds(5)) {
                do {
                    _ = try await client.checkDiskAvailable(disk.id)
                    return false
                } catch let error as SakuraCloudError {
                    failure = error
                    return true
                }
            }
            #expect(failure?.kind == .diskCopyFailed(diskID: disk.id))
            #expect(failure?.isRetryable == false)
        }
    }

    @Test func probabilisticFaultsAreReproducibleWithASeed() async throws {
        func firedCount(seed: UInt64) async throws -> Int {
            var configuration = try faults("GET *=busy,p=0.3")
            configuration.seed = seed
            return try await withSimulator(configuration, retry: SakuraRetryPolicy(maxRetries: 10, minWait: .milliseconds(1), maxWait: .milliseconds(2))) { simulator, client in
                for _ in 0..<20 { _ = try await client.authStatus() }
                return try await fetchState(simulator)["FaultsFired"]?.arrayValue?.count ?? -1
            }
        }
        let first = try await firedCount(seed: 42)
        #expect(first > 0)
        #expect(try await firedCount(seed: 42) == first)
    }

    @Test func faultSpecParsingNamesTheProblem() throws {
        let rules = try FaultRule.parseList("POST /server=timeout,after; GET *=busy,p=0.5,zone=is1b ;PUT /server/*/power=429,retry-after=3,times=2")
        #expect(rules.count == 3)
        #expect(rules[0].phase == .after && rules[0].remaining == 1)
        #expect(rules[1].probability == 0.5 && rules[1].remaining == nil && rules[1].zone == "is1b")
        #expect(rules[2].retryAfterSeconds == 3 && rules[2].remaining == 2)
        do {
            _ = try FaultRule.parse("POST /server=explode")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.description.contains("unknown fault kind"))
        }
        #expect(throws: FaultSpecError.self) { try FaultRule.parse("/server=busy") }
        #expect(throws: FaultSpecError.self) { try FaultRule.parse("GET /x=busy,p=2") }
    }
}
