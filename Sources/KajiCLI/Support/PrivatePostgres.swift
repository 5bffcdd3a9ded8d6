import Engine
import Foundation

/// A throwaway PostgreSQL server from the installed Debian binaries: initdb as user `postgres` in a
/// temporary folder, listening on 127.0.0.1 only, on a free port. Stopped and removed by `stop()`.
struct PrivatePostgres {
    let directory: String
    let port: Int
    let binDir: String

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// Starts a server. `durable: false` turns fsync off (fast, for demos and tests; never for benchmarks).
    static func start(durable: Bool = false) throws -> PrivatePostgres {
        guard let binDir = findBinDir() else {
            throw CLIFailure(message: "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them with `apt-get install -y postgresql` (or pass --database-url)")
        }
        let directory = try makeTempDirectory()
        try run("/bin/chown", ["postgres:postgres", directory])
        try run("/bin/chmod", ["700", directory])
        let port = try freePort()
        try run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binDir)/initdb", "-D", "\(directory)/data", "-U", "postgres",
                                      "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        var options = "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory) -c max_connections=200"
        if !durable { options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
        try run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binDir)/pg_ctl", "-D", "\(directory)/data", "-l", "\(directory)/server.log",
                                      "-w", "-t", "30", "-o", options, "start"])
        return PrivatePostgres(directory: directory, port: port, binDir: binDir)
    }

    func stop() {
        _ = try? Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binDir)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func findBinDir() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed()
            .map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    static func makeTempDirectory() throws -> String {
        var template = Array("/tmp/kaji-pg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure(message: "cannot create a temporary folder in /tmp") }
        return String(cString: made)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIFailure(message: "cannot open a socket to find a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard bound == 0 else { throw CLIFailure(message: "cannot bind a socket on 127.0.0.1 to find a free port") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
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
