import Foundation
import Provisioner
import Testing

@Suite("sakura-sim executable", .timeLimit(.minutes(1)))
struct SakuraSimExecutableTests {
    /// `sakura-sim`, built next to the test bundle by `swift build --build-tests`.
    static func binary() throws -> URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sakura-sim")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw MissingBinary()
    }

    struct MissingBinary: Error, CustomStringConvertible {
        var description: String { "sakura-sim was not built next to the tests; run `swift build --build-tests` first" }
    }

    @Test func printsItsURLAndServesTheAPI() async throws {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = ["--port", "0", "--token", "t", "--secret", "s", "--faults", "GET /auth-status=busy", "--seed", "7"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let reader = output.fileHandleForReading
        let pid = process.processIdentifier
        let line: String = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                var text = ""
                while !text.contains("\n") {
                    let chunk = reader.availableData
                    if chunk.isEmpty { return nil }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                return text
            }
            group.addTask {
                try await Task.sleep(for: .seconds(15))
                kill(pid, SIGTERM)  // unblocks the reader with EOF
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw MissingBinary() }
            return first
        }
        #expect(line.hasPrefix("sakura-sim listening on http://127.0.0.1:"))
        let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") }).description
        let client = SakuraCloudClient(
            configuration: SakuraCloudConfiguration(
                baseURL: url, credentials: SakuraCloudCredentials(accessToken: "t", accessTokenSecret: "s"),
                requestTimeout: .seconds(5),
                retry: SakuraRetryPolicy(maxRetries: 3, minWait: .milliseconds(10), maxWait: .milliseconds(50)),
                rateLimiter: SakuraRateLimiter(requestsPerSecond: 0)))
        let status = try await client.authStatus()
        #expect(status.permission == "create")
    }
}
