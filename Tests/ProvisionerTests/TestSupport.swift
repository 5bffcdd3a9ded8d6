import AsyncHTTPClient
import Foundation
import NIOCore
import Provisioner
import SakuraSimulator
import Testing

/// Starts a simulator on 127.0.0.1 port 0, hands a fast-retrying client to `body`, stops it afterwards.
func withSimulator<T>(
    _ configuration: SakuraSimulatorConfiguration = SakuraSimulatorConfiguration(),
    retry: SakuraRetryPolicy = SakuraRetryPolicy(maxRetries: 4, minWait: .milliseconds(10), maxWait: .milliseconds(200)),
    // Generous: a power call or disk edit is not re-sent after a timeout, and a loaded machine can be slow.
    requestTimeout: Duration = .seconds(30),
    power: SakuraPowerPolicy = SakuraPowerPolicy(bootRetrySpan: .milliseconds(50), initialRequestTimeout: .seconds(30)),
    _ body: (SakuraSimulator, SakuraCloudClient) async throws -> T
) async throws -> T {
    let simulator = try await SakuraSimulator.start(configuration)
    let client = SakuraCloudClient(
        configuration: SakuraCloudConfiguration(
            baseURL: simulator.baseURL, zone: "is1a",
            credentials: SakuraCloudCredentials(
                accessToken: configuration.accessToken, accessTokenSecret: configuration.accessTokenSecret),
            requestTimeout: requestTimeout, retry: retry, rateLimiter: SakuraRateLimiter(requestsPerSecond: 0), powerGate: InProcessPowerGate(),
            power: power))
    do {
        let value = try await body(simulator, client)
        await simulator.stop()
        return value
    } catch {
        await simulator.stop()
        throw error
    }
}

/// `GET /_fake/state` over HTTP, as an outside observer sees it.
func fetchState(_ simulator: SakuraSimulator) async throws -> JSONValue {
    let response = try await HTTPClient.shared.execute(
        HTTPClientRequest(url: simulator.baseURL + "/_fake/state"), timeout: .seconds(5))
    let body = try await response.body.collect(upTo: 1 << 24)
    return try JSONValue.parse(Data(body.readableBytesView))
}

func count(_ state: JSONValue, _ key: String) -> Int {
    state[key]?.arrayValue?.count ?? -1
}

/// Polls `check` every 20 ms until it returns true or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(5), _ what: String, _ check: () async throws -> Bool
) async throws {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if try await check() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out after \(timeout) waiting for \(what)")
    throw TimedOut(what: what)
}

struct TimedOut: Error {
    var what: String
}

/// Expects `body` to throw a ``SakuraCloudError`` and returns it.
func expectCloudError(
    _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async -> SakuraCloudError? {
    do {
        try await body()
        Issue.record("expected a SakuraCloudError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as SakuraCloudError {
        return error
    } catch {
        Issue.record("expected a SakuraCloudError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The loopback sshd that `scripts/test.sh` starts with `scripts/start-sshd.sh`.
struct TestSSHD {
    var port: Int
    var hostKeyPub: String
    var clientKey: String
    var directory: String

    static func fromEnvironment() throws -> TestSSHD {
        let environment = ProcessInfo.processInfo.environment
        guard let portText = environment["KAJI_TEST_SSHD_PORT"], let port = Int(portText),
            let hostKey = environment["KAJI_TEST_SSHD_HOST_KEY_PUB"], let clientKey = environment["KAJI_TEST_SSH_KEY"],
            let directory = environment["KAJI_TEST_SSHD_DIR"]
        else {
            throw MissingSSHD()
        }
        return TestSSHD(port: port, hostKeyPub: hostKey, clientKey: clientKey, directory: directory)
    }

    /// An executor with a fresh known-hosts file in a temp directory.
    func executor(connectAttempts: Int = 3, knownHosts: String? = nil, connectTimeout: Duration = .seconds(2), connectRetryWait: Duration = .milliseconds(50)) throws -> SSHExecutor {
        let path = knownHosts ?? temporaryPath("known_hosts")
        return SSHExecutor(
            configuration: SSHConfiguration(
                identity: try SSHIdentity.load(privateKeyPath: clientKey), knownHosts: KnownHostsFile(path: path),
                connectTimeout: connectTimeout, connectAttempts: connectAttempts, connectRetryWait: connectRetryWait))
    }

    var endpoint: SSHEndpoint { SSHEndpoint(host: "127.0.0.1", port: port) }
}

struct MissingSSHD: Error, CustomStringConvertible {
    var description: String {
        "KAJI_TEST_SSHD_PORT, KAJI_TEST_SSHD_HOST_KEY_PUB, KAJI_TEST_SSH_KEY and KAJI_TEST_SSHD_DIR are not set: "
            + "run the tests through scripts/test.sh, or `eval \"$(scripts/start-sshd.sh /tmp/kaji-sshd)\"` first"
    }
}

func temporaryPath(_ name: String) -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-prov-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}
