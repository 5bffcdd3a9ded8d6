import Foundation
import Logging
import Provisioner
import SakuraSimulator

/// The in-process SAKURA Cloud simulator, reached over HTTP on 127.0.0.1 by a real client.
package enum TestSimulator {
    /// A client of `simulator` that retries fast and paces nothing.
    package static func client(
        of simulator: SakuraSimulator, accessToken: String, accessTokenSecret: String,
        retry: SakuraRetryPolicy = SakuraRetryPolicy(maxRetries: 4, minWait: .milliseconds(10), maxWait: .milliseconds(200)),
        // Generous: a power call or disk edit is not re-sent after a timeout, and a loaded machine can be slow.
        requestTimeout: Duration = .seconds(30),
        power: SakuraPowerPolicy = SakuraPowerPolicy(bootRetrySpan: .milliseconds(50), initialRequestTimeout: .seconds(30)),
        logger: Logger? = nil
    ) -> SakuraCloudClient {
        let configuration = SakuraCloudConfiguration(
            baseURL: simulator.baseURL, zone: "is1a",
            credentials: SakuraCloudCredentials(accessToken: accessToken, accessTokenSecret: accessTokenSecret),
            requestTimeout: requestTimeout, retry: retry, rateLimiter: SakuraRateLimiter(requestsPerSecond: 0), powerGate: InProcessPowerGate(),
            power: power)
        if let logger { return SakuraCloudClient(configuration: configuration, logger: logger) }
        return SakuraCloudClient(configuration: configuration)
    }
}

/// Starts a simulator on 127.0.0.1 port 0, hands a fast-retrying client to `body`, stops it afterwards.
package func withSimulator<T>(
    _ configuration: SakuraSimulatorConfiguration = SakuraSimulatorConfiguration(),
    retry: SakuraRetryPolicy = SakuraRetryPolicy(maxRetries: 4, minWait: .milliseconds(10), maxWait: .milliseconds(200)),
    requestTimeout: Duration = .seconds(30),
    power: SakuraPowerPolicy = SakuraPowerPolicy(bootRetrySpan: .milliseconds(50), initialRequestTimeout: .seconds(30)),
    _ body: (SakuraSimulator, SakuraCloudClient) async throws -> T
) async throws -> T {
    let simulator = try await SakuraSimulator.start(configuration)
    let client = TestSimulator.client(
        of: simulator, accessToken: configuration.accessToken, accessTokenSecret: configuration.accessTokenSecret,
        retry: retry, requestTimeout: requestTimeout, power: power)
    do {
        let value = try await body(simulator, client)
        await simulator.stop()
        return value
    } catch {
        await simulator.stop()
        throw error
    }
}
