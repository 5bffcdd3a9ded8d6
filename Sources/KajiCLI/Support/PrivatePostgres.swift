import Foundation

/// A throwaway PostgreSQL server for `kaji demo`, started and stopped by the same scripts the tests use
/// (`scripts/start-pg.sh`, `scripts/stop-pg.sh`: initdb as user `postgres` in a temporary folder, listening
/// on 127.0.0.1 only, on a free port), so there is one recipe. Stopped and removed by `stop()`.
struct PrivatePostgres {
    let directory: String
    let url: String

    var port: Int { URLComponents(string: url)?.port ?? 0 }

    /// Starts a server with `scripts/start-pg.sh` of the repository (see `RepoPaths`).
    static func start() throws -> PrivatePostgres {
        let script = try RepoPaths.script("start-pg.sh", purpose: "a private PostgreSQL (or pass --database-url)")
        let directory = try makeTempDirectory()
        do {
            let exports = Self.exports(try run(script, [directory]))
            guard let url = exports["KAJI_TEST_DATABASE_URL"] else {
                throw CLIFailure(message: "\(script) printed no KAJI_TEST_DATABASE_URL")
            }
            return PrivatePostgres(directory: directory, url: url)
        } catch {
            PrivatePostgres(directory: directory, url: "").stop()  // whatever half-started, and the folder
            throw error
        }
    }

    /// Stops the server with `scripts/stop-pg.sh`, which also removes its folder.
    func stop() {
        if let script = try? RepoPaths.script("stop-pg.sh", purpose: "stopping the private PostgreSQL") {
            _ = try? Self.run(script, [directory])
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The `export NAME=VALUE` lines a start script printed.
    static func exports(_ output: String) -> [String: String] {
        var environment: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
        }
        return environment
    }

    static func makeTempDirectory() throws -> String {
        var template = Array("/tmp/kaji-pg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure(message: "cannot create a temporary folder in /tmp") }
        return String(cString: made)
    }

    /// Runs a program to completion, its output in a file (a pipe would be inherited by the server that
    /// pg_ctl starts, and reading it to the end would never return).
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let outputPath = NSTemporaryDirectory() + "kaji-run-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        // Foundation watches a socket it leaves open in the child to learn that the child exited; the
        // server that pg_ctl starts would inherit it and the wait would never end. Close every descriptor
        // above 2 before exec.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done; exec "$@""#, "kaji-run", path] + arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw CLIFailure(message: "\((path as NSString).lastPathComponent) \(arguments.prefix(3).joined(separator: " ")) failed (exit \(process.terminationStatus)): \(text.suffix(800))")
        }
        return text
    }
}
