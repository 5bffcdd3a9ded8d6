import Foundation
import KajiTesting
import Provisioner
import Testing

/// The built `sakura-sim` executable as a process, reached by a real client (moved from ProvisionerTests).
@Suite("sakura-sim executable", .timeLimit(.minutes(1)))
struct SakuraSimProcessTests {
    @Test func printsItsURLAndServesTheAPI() async throws {
        let process = try ChildProcess(
            try KajiBinary.sibling("sakura-sim"),
            ["--port", "0", "--token", "t", "--secret", "s", "--faults", "GET /auth-status=busy", "--seed", "7"])
        var line = ""
        do {
            try await eventually("sakura-sim prints its URL", timeout: .seconds(15)) {
                line = process.stdout
                return line.contains("\n") || !process.isRunning
            }
            line = String(line.prefix { $0 != "\n" })
        } catch {
            try await process.kill()
            throw error
        }
        #expect(line.hasPrefix("sakura-sim listening on http://127.0.0.1:"))
        let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") }).description
        let client = SakuraCloudClient(
            configuration: SakuraCloudConfiguration(
                baseURL: url, credentials: SakuraCloudCredentials(accessToken: "t", accessTokenSecret: "s"),
                requestTimeout: .seconds(5),
                retry: SakuraRetryPolicy(maxRetries: 3, minWait: .milliseconds(10), maxWait: .milliseconds(50)),
                rateLimiter: SakuraRateLimiter(requestsPerSecond: 0)))
        let status = try await client.authStatus()
        #expect(status.permission == "create")
        try await process.terminate(timeout: .seconds(15))
    }
}
