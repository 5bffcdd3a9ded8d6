import Foundation
import KajiTesting
import Provisioner
import SakuraSimulator
import Synchronization
import Testing

@Suite("Client pacing: rate limit and power gate", .timeLimit(.minutes(1)))
struct ClientPacingTests {
    @Test func requestsAreSpacedByTheRateLimit() async throws {
        try await withSimulator { simulator, _ in
            let client = SakuraCloudClient(
                configuration: SakuraCloudConfiguration(
                    baseURL: simulator.baseURL,
                    credentials: SakuraCloudCredentials(accessToken: "kaji-sim-token", accessTokenSecret: "kaji-sim-secret"),
                    rateLimiter: SakuraRateLimiter(requestsPerSecond: 20)))
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try await client.authStatus() } }
                try await group.waitForAll()
            }
            // Six requests at 20/s: the last one leaves 5 × 50 ms after the first.
            #expect(ContinuousClock.now - started >= .milliseconds(240))
        }
    }

    @Test func powerGateRunsOneCallPerZoneAtATime() async throws {
        let gate = InProcessPowerGate()
        let inside = Concurrency()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<6 {
                group.addTask {
                    try await gate.withGate(zone: index % 2 == 0 ? "is1a" : "tk1a") {
                        inside.enter()
                        try await Task.sleep(for: .milliseconds(20))
                        inside.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(inside.peak <= 2)
    }

    @Test func parallelPowerOnsAgainstABusyLimitAllSucceed() async throws {
        var configuration = SakuraSimulatorConfiguration()
        configuration.profile.powerCallsPerSecond = 2
        let retry = SakuraRetryPolicy(maxRetries: 8, minWait: .milliseconds(100), maxWait: .milliseconds(400))
        try await withSimulator(configuration, retry: retry) { _, client in
            var ids: [SakuraID] = []
            for name in ["a", "b", "c", "d"] {
                ids.append(try await client.createServer(ServerSpec(name: name, cpu: 1, memoryMB: 1024)).id)
            }
            let servers = ids
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in servers { group.addTask { try await client.powerOn(id) } }
                try await group.waitForAll()
            }
            for id in servers {
                try await eventually("\(id) up", timeout: .seconds(5)) { try await client.checkServerStatus(id, is: .up).ready }
            }
        }
    }
}

/// Counts how many tasks are inside a section at once.
final class Concurrency: Sendable {
    private let state = Mutex((now: 0, peak: 0))

    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}
