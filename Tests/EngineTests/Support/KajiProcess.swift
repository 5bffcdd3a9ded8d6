import Foundation
import Testing

/// The built `kaji` executable, run as a real process.
enum KajiBinary {
    static var path: String {
        get throws {
            if let path = ProcessInfo.processInfo.environment["KAJI_BIN"], FileManager.default.isExecutableFile(atPath: path) { return path }
            // Fall back to the debug build beside this package.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let candidate = root.appendingPathComponent(".build/debug/kaji").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw TestSetupError("the kaji executable was not found: set KAJI_BIN or build it (swift build --build-tests)")
            }
            return candidate
        }
    }
}

/// The result of a finished `kaji` command.
struct CommandResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A `kaji` process: a command that finishes, or a long-running worker.
final class KajiProcess: @unchecked Sendable {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stdoutPath = dir.appendingPathComponent("stdout").path
        stderrPath = dir.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: try KajiBinary.path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["KAJI_LOG_LEVEL"] = env["KAJI_LOG_LEVEL"] ?? "info"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit, killing it after `timeout`.
    func wait(timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                signal(SIGKILL)
                process.waitUntilExit()
                throw TestSetupError("kaji \(process.arguments?.joined(separator: " ") ?? "") did not exit within \(timeout); stderr: \(stderr.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return CommandResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs a command to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await KajiProcess(arguments, environment: environment).wait(timeout: timeout)
    }
}

extension TestDatabase {
    /// `--database-url URL --schema S` for a process working on this test's schema.
    var cliArguments: [String] { ["--database-url", url, "--schema", config.schema] }

    /// Starts a `kaji worker` process on this test's schema.
    func spawnWorker(concurrency: Int = 4, leaseSeconds: Double = 30, drainSeconds: Double = 10, environment: [String: String] = [:], id: String? = nil) throws -> KajiProcess {
        var args = ["worker", "--concurrency", "\(concurrency)", "--lease-seconds", "\(leaseSeconds)", "--drain-seconds", "\(drainSeconds)"] + cliArguments
        if let id { args += ["--id", id] }
        return try KajiProcess(args, environment: environment)
    }
}
