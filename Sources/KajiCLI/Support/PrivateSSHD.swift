import Foundation

/// A private OpenSSH sshd on 127.0.0.1 that serves every simulated node (scripts/start-sshd.sh), for the demo.
struct PrivateSSHD {
    /// The variables start-sshd.sh exported (KAJI_TEST_SSHD_PORT, KAJI_TEST_SSH_KEY, KAJI_SIM_STATE, …).
    let environment: [String: String]
    let directory: String

    var port: Int { Int(environment["KAJI_TEST_SSHD_PORT"] ?? "") ?? 0 }

    static func start() throws -> PrivateSSHD {
        let script = try RepoPaths.script("start-sshd.sh", purpose: "the simulated nodes' sshd")
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else {
            throw CLIFailure(message: "/usr/sbin/sshd not found: install it with `apt-get install -y openssh-server` (scripts/setup.sh does)")
        }
        let directory = try PrivatePostgres.makeTempDirectory()
        chmod(directory, 0o755)
        let output = try PrivatePostgres.run(script, [directory + "/sshd"])
        let environment = PrivatePostgres.exports(output)
        guard environment["KAJI_TEST_SSHD_PID"] != nil else {
            throw CLIFailure(message: "start-sshd.sh printed no sshd pid: \(output.suffix(500))")
        }
        return PrivateSSHD(environment: environment, directory: directory)
    }

    /// Stops sshd and removes its folder. Waits (at most 5 s) until sshd has exited first: it deletes its
    /// pid file as it goes, and a removal racing it stops half-way and leaves the folder behind.
    func stop() {
        if let pid = environment["KAJI_TEST_SSHD_PID"].flatMap({ Int32($0) }) {
            kill(pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(5)
            while kill(pid, 0) == 0, ContinuousClock.now < deadline { usleep(20_000) }
        }
        for _ in 0..<3 where FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

/// Where the repository's scripts are: `KAJI_REPO_ROOT`, else the checkout this binary was built from.
enum RepoPaths {
    static var root: String {
        if let root = ProcessInfo.processInfo.environment["KAJI_REPO_ROOT"], !root.isEmpty { return root }
        // Sources/KajiCLI/Support/PrivateSSHD.swift → the repository root.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The path of `scripts/NAME`, or an error saying why `kaji demo` needs it and how to point at it (the
    /// demo's private servers start through the repository's scripts, the one recipe the tests use too).
    static func script(_ name: String, purpose: String) throws -> String {
        let path = root + "/scripts/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CLIFailure(message: "\(path) not found: kaji demo starts \(purpose) with the repository's scripts/\(name), so it runs from a checkout of the Kaji repository (set KAJI_REPO_ROOT to one)")
        }
        return path
    }
}
