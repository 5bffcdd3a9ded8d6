import Foundation
import Logging
import Provisioner

/// The loopback sshd that `scripts/test.sh` starts with `scripts/start-sshd.sh` (its node tools keep the
/// simulated nodes' state under `KAJI_SIM_STATE`).
package struct TestSSHD: Sendable {
    package var port: Int
    package var hostKeyPub: String
    package var clientKey: String
    package var directory: String
    /// `KAJI_SIM_STATE`: where the simulated node tools keep their worlds.
    package var simState: String

    package static func fromEnvironment() throws -> TestSSHD {
        let environment = TestEnvironment.variables
        guard let portText = environment["KAJI_TEST_SSHD_PORT"], let port = Int(portText),
              let hostKey = environment["KAJI_TEST_SSHD_HOST_KEY_PUB"], let clientKey = environment["KAJI_TEST_SSH_KEY"],
              let directory = environment["KAJI_TEST_SSHD_DIR"], let state = environment["KAJI_SIM_STATE"]
        else {
            throw KajiTestingError(
                "KAJI_TEST_SSHD_PORT, KAJI_TEST_SSHD_HOST_KEY_PUB, KAJI_TEST_SSH_KEY, KAJI_TEST_SSHD_DIR and KAJI_SIM_STATE are not set: "
                    + "run the tests through scripts/test.sh, or `eval \"$(scripts/start-sshd.sh /tmp/kaji-sshd)\"` first")
        }
        return TestSSHD(port: port, hostKeyPub: hostKey, clientKey: clientKey, directory: directory, simState: state)
    }

    /// An executor with the test client key and a fresh known-hosts file in a temporary folder (or `knownHosts`).
    package func executor(connectAttempts: Int = 3, knownHosts: String? = nil, connectTimeout: Duration = .seconds(2),
                          connectRetryWait: Duration = .milliseconds(50), logger: Logger? = nil) throws -> SSHExecutor {
        let path = knownHosts ?? TestEnvironment.temporaryPath("known_hosts", prefix: "kaji-ssh")
        let configuration = SSHConfiguration(
            identity: try SSHIdentity.load(privateKeyPath: clientKey), knownHosts: KnownHostsFile(path: path),
            connectTimeout: connectTimeout, connectAttempts: connectAttempts, connectRetryWait: connectRetryWait)
        if let logger { return SSHExecutor(configuration: configuration, logger: logger) }
        return SSHExecutor(configuration: configuration)
    }

    package var endpoint: SSHEndpoint { SSHEndpoint(host: "127.0.0.1", port: port) }
}
