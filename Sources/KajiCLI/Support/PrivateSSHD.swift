import Foundation

/// A private OpenSSH sshd on 127.0.0.1 that serves every simulated node (scripts/start-sshd.sh), for the demo.
struct PrivateSSHD {
    /// The variables start-sshd.sh exported (KAJI_TEST_SSHD_PORT, KAJI_TEST_SSH_KEY, KAJI_SIM_STATE, …).
    let environment: [String: String]
    let directory: String

    var port: Int { Int(environment["KAJI_TEST_SSHD_PORT"] ?? "") ?? 0 }

    static func start() throws -> PrivateSSHD {
        let script = RepoPaths.root + "/scripts/start-sshd.sh"
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw CLIFailure(message: "\(script) not found: kaji demo runs from a checkout of the Kaji repository (set KAJI_REPO_ROOT)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else {
            throw CLIFailure(message: "/usr/sbin/sshd not found: install it with `apt-get install -y openssh-server` (scripts/setup.sh does)")
        }
        let directory = try PrivatePostgres.makeTempDirectory()
        chmod(directory, 0o755)
        let output = try PrivatePostgres.run(script, [directory + "/sshd"])
        var environment: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
        }
        guard environment["KAJI_TEST_SSHD_PID"] != nil else {
            throw CLIFailure(message: "start-sshd.sh printed no sshd pid: \(output.suffix(500))")
        }
        return PrivateSSHD(environment: environment, directory: directory)
    }

    func stop() {
        if let pid = environment["KAJI_TEST_SSHD_PID"].flatMap({ Int32($0) }) { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(atPath: directory)
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
}
