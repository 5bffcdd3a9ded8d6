import Foundation
import Logging
import Testing

/// What the test run was given: the shared PostgreSQL and the loopback sshd (both started by
/// `scripts/test.sh`), and where the repository is.
package enum TestEnvironment {
    package static var variables: [String: String] { ProcessInfo.processInfo.environment }

    /// `KAJI_TEST_DATABASE_URL`, or nil when unset or empty.
    package static var databaseURL: String? {
        guard let url = variables["KAJI_TEST_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Whether a PostgreSQL server was given (tests that need one are skipped otherwise).
    package static var hasDatabase: Bool { databaseURL != nil }

    /// Whether the loopback sshd of `scripts/start-sshd.sh` was given.
    package static var hasSSHD: Bool { (try? TestSSHD.fromEnvironment()) != nil }

    /// The repository's root folder (for `scripts/`, `examples/` and `.build/`).
    package static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The log level of test loggers: `KAJI_TEST_LOG_LEVEL`, else critical.
    package static var logLevel: Logger.Level {
        variables["KAJI_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    }

    /// A fresh folder under the temporary directory; the path of `name` inside it.
    package static func temporaryPath(_ name: String, prefix: String = "kaji-test") -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(name).path
    }
}

extension Trait where Self == ConditionTrait {
    /// Skips the suite or test, saying why, when no PostgreSQL is configured.
    package static var needsDatabase: Self {
        .enabled(if: TestEnvironment.hasDatabase, "needs PostgreSQL: set KAJI_TEST_DATABASE_URL (scripts/test.sh does)")
    }

    /// Skips the suite or test, saying why, when the loopback sshd is not configured.
    package static var needsSSHD: Self {
        .enabled(if: TestEnvironment.hasSSHD, "needs the test sshd: set KAJI_TEST_SSHD_* (scripts/test.sh runs scripts/start-sshd.sh)")
    }

    /// Skips the suite or test, saying why, unless both PostgreSQL and the loopback sshd are configured.
    package static var needsDatabaseAndSSHD: Self {
        .enabled(if: TestEnvironment.hasDatabase && TestEnvironment.hasSSHD,
                 "needs PostgreSQL and the test sshd: set KAJI_TEST_DATABASE_URL and KAJI_TEST_SSHD_* (scripts/test.sh does)")
    }
}

/// What a test-kit helper could not do.
package struct KajiTestingError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
