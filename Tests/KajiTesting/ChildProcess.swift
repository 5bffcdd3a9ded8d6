import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The result of a finished process.
package struct CommandResult: Sendable, CustomStringConvertible {
    /// The exit code, or the signal number when a signal ended the process (as Foundation's Process reports it).
    package let status: Int32
    package let stdout: String
    package let stderr: String

    package var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// A child process spawned with posix_spawn and reaped with waitpid (polled, never blocking): Foundation's
/// Process did not always notice a short-lived child's exit (it stayed a zombie, `waitUntilExit` hung) while
/// other children came and went. Its stdout and stderr go to files, readable while it runs.
package final class ChildProcess: Sendable {
    package let pid: pid_t
    package let executable: String
    package let arguments: [String]
    package let stdoutPath: String
    package let stderrPath: String
    /// The raw wait status, once reaped.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - environment: the child's whole environment (default: this process's).
    ///   - stdin: a file to read standard input from (default: /dev/null).
    package init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stdoutPath = dir.appendingPathComponent("stdout").path
        stderrPath = dir.appendingPathComponent("stderr").path
        self.executable = executable
        self.arguments = arguments

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        let env = environment ?? ProcessInfo.processInfo.environment
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw KajiTestingError("cannot start \(executable): error \(spawned)") }
        self.pid = pid
    }

    package var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    package var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The raw wait status if the process has ended (reaping it then), else nil.
    private func poll() -> Int32? {
        reaped.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                status = raw
            } else if result < 0 && errno == ECHILD {
                status = -1  // reaped elsewhere: nothing more to learn
            }
            return status
        }
    }

    package var isRunning: Bool { poll() == nil }

    package func signal(_ sig: Int32) {
        if isRunning { sendSignal(pid, sig) }
    }

    /// Waits until the process has exited. After `timeout` it is killed (SIGKILL) and this throws.
    @discardableResult
    package func wait(timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let raw = poll() { return result(raw) }
            if clock.now >= deadline {
                sendSignal(pid, SIGKILL)
                _ = try? await waitAfterKill()
                throw KajiTestingError("\(commandLine) did not exit within \(timeout); stderr: \(stderr.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGKILL, then waits (at most 30 s) until the process is gone.
    @discardableResult
    package func kill() async throws -> CommandResult {
        signal(SIGKILL)
        return try await waitAfterKill()
    }

    /// SIGTERM, then waits until the process exited (killed after `timeout`).
    @discardableResult
    package func terminate(timeout: Duration = .seconds(60)) async throws -> CommandResult {
        signal(SIGTERM)
        return try await wait(timeout: timeout)
    }

    private func waitAfterKill() async throws -> CommandResult {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let raw = poll() { return result(raw) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw KajiTestingError("\(commandLine) was killed but did not go away within 30 s")
    }

    private var commandLine: String { ([executable] + arguments).joined(separator: " ") }

    private func result(_ raw: Int32) -> CommandResult {
        let signaled = raw & 0x7f
        let status = raw == -1 ? -1 : (signaled == 0 ? (raw >> 8) & 0xff : signaled)
        return CommandResult(status: status, stdout: stdout, stderr: stderr)
    }

    deinit {
        if poll() == nil {
            let pid = self.pid
            sendSignal(pid, SIGKILL)
            // Reaped in the background so that no zombie is left behind.
            Task.detached {
                for _ in 0..<1500 {
                    var raw: Int32 = 0
                    if waitpid(pid, &raw, WNOHANG) != 0 { return }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    /// Runs a program to its end (killed after `timeout`).
    package static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil,
                            timeout: Duration = .seconds(120)) async throws -> CommandResult {
        try await ChildProcess(executable, arguments, environment: environment, stdin: stdin).wait(timeout: timeout)
    }
}

/// The built executables of this package.
package enum KajiBinary {
    /// The `kaji` executable: `KAJI_BIN`, else the debug build beside this package.
    package static var path: String {
        get throws {
            if let path = TestEnvironment.variables["KAJI_BIN"], FileManager.default.isExecutableFile(atPath: path) { return path }
            let candidate = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/kaji").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw KajiTestingError("the kaji executable was not found: set KAJI_BIN or build it (swift build --build-tests)")
            }
            return candidate
        }
    }

    /// Another executable of this package (`sakura-sim`), built beside `kaji`.
    package static func sibling(_ name: String) throws -> String {
        let path = URL(fileURLWithPath: try self.path).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw KajiTestingError("\(name) was not built next to kaji (\(path)): run `swift build --build-tests` first")
        }
        return path
    }
}

/// A `kaji` process: a command that finishes, or a long-running worker. `KAJI_LOG_LEVEL` is `info` unless
/// this process or `environment` sets it.
package final class KajiProcess: Sendable {
    package let child: ChildProcess

    package init(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws {
        var env = TestEnvironment.variables
        env["KAJI_LOG_LEVEL"] = env["KAJI_LOG_LEVEL"] ?? "info"
        for (key, value) in environment { env[key] = value }
        child = try ChildProcess(try KajiBinary.path, arguments, environment: env, stdin: stdin)
    }

    package var pid: Int32 { child.pid }
    package var isRunning: Bool { child.isRunning }
    package var stdout: String { child.stdout }
    package var stderr: String { child.stderr }

    package func signal(_ sig: Int32) { child.signal(sig) }

    /// Waits for the process to exit, killing it (and throwing) after `timeout`.
    @discardableResult
    package func wait(timeout: Duration = .seconds(60)) async throws -> CommandResult { try await child.wait(timeout: timeout) }

    /// SIGKILL: no drain, no release, no last words; returns once the process is gone.
    @discardableResult
    package func kill() async throws -> CommandResult { try await child.kill() }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    package func terminate(timeout: Duration = .seconds(60)) async throws -> CommandResult { try await child.terminate(timeout: timeout) }

    /// Runs a command to completion.
    package static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
                            timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await KajiProcess(arguments, environment: environment, stdin: stdin).wait(timeout: timeout)
    }
}

/// `kill(2)` (a free function here, so that `ChildProcess.kill()` does not hide it).
private func sendSignal(_ pid: pid_t, _ sig: Int32) {
    _ = kill(pid, sig)
}
