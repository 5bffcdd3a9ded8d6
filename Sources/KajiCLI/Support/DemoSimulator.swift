import AsyncHTTPClient
import Foundation
import JSONCore

/// The SAKURA Cloud simulator for `kaji demo`: the `sakura-sim` executable as a child process, so that the
/// production `kaji` binary links neither the simulator nor its HTTP server.
struct DemoSimulator {
    let process: Process
    /// `http://127.0.0.1:PORT`, as sakura-sim printed it.
    let baseURL: String
    let log: String

    /// Where `sakura-sim` is: `KAJI_SAKURA_SIM`, else next to this `kaji` (both are built into one folder),
    /// else the first one on `PATH`.
    static func executable(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let manager = FileManager.default
        if let given = environment["KAJI_SAKURA_SIM"], !given.isEmpty {
            guard manager.isExecutableFile(atPath: given) else {
                throw CLIFailure(message: "KAJI_SAKURA_SIM=\(given) is not an executable file: point it at a built sakura-sim")
            }
            return given
        }
        let beside = URL(fileURLWithPath: CommandLine.selfPath).deletingLastPathComponent().appendingPathComponent("sakura-sim").path
        if manager.isExecutableFile(atPath: beside) { return beside }
        for folder in (environment["PATH"] ?? "").split(separator: ":") where !folder.isEmpty {
            let candidate = "\(folder)/sakura-sim"
            if manager.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CLIFailure(message: "sakura-sim not found next to kaji (\(beside)) nor on PATH: build it with `swift build --product sakura-sim` (scripts/demo.sh does), or set KAJI_SAKURA_SIM to its path")
    }

    /// Starts `sakura-sim` (at `path`, see `executable()`) on a free loopback port with the demo's credentials, its simulated nodes served by
    /// the private sshd, and waits (at most `timeout`) until it prints the URL it listens on. Its output goes
    /// to `log`.
    static func start(executable path: String, token: String, secret: String, sshd: PrivateSSHD, world: String, log: String,
                      timeout: Duration = .seconds(30)) async throws -> DemoSimulator {
        var arguments = ["--port", "0", "--token", token, "--secret", secret, "--profile", "unit", "--world", world]
        if sshd.port > 0 { arguments += ["--ssh-port", "\(sshd.port)"] }
        if let dir = sshd.environment["KAJI_TEST_SSHD_DIR"] { arguments += ["--authorized-keys", dir + "/authorized_keys"] }
        if let state = sshd.environment["KAJI_SIM_STATE"] { arguments += ["--node-state", state] }  // kube-apiserver stand-ins
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("sakura-sim listening on ") }),
               let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") }) {
                return DemoSimulator(process: process, baseURL: String(url), log: log)
            }
            guard process.isRunning else {
                throw CLIFailure(message: "\(path) exited (status \(process.terminationStatus)) before it listened: \(text.suffix(800))")
            }
            guard ContinuousClock.now < deadline else {
                process.terminate()
                process.waitUntilExit()
                throw CLIFailure(message: "\(path) did not print the URL it listens on within \(Int(timeout.seconds)) s: \(text.suffix(800))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The simulator's whole state (`GET /_fake/state`).
    func state() async throws -> JSONValue {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/_fake/state"), timeout: .seconds(30))
        guard response.status.code == 200 else {
            throw CLIFailure(message: "sakura-sim GET /_fake/state answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        return try JSONValue.parse(Data(body.readableBytesView))
    }

    /// Stops the simulator and waits until it has exited.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
