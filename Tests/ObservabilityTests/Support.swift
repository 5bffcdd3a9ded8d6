import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore

/// One scrape of a `/metrics` page, parsed: every sample by name and labels.
struct Scrape: Sendable {
    let text: String
    /// (name, labels, value) of every sample line.
    let samples: [(name: String, labels: [String: String], value: Double)]

    init(_ text: String) throws {
        self.text = text
        var samples: [(String, [String: String], Double)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...].replacingOccurrences(of: "+Inf", with: "inf")) else {
                throw KajiTestingError("not a sample line: \(line)")
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: String
            if let brace = series.firstIndex(of: "{") {
                name = String(series[..<brace])
                // Label values in these tests hold no commas, quotes or escapes.
                let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                for pair in body.split(separator: ",") {
                    guard let equals = pair.firstIndex(of: "=") else { throw KajiTestingError("bad label in: \(line)") }
                    labels[String(pair[..<equals])] = String(pair[pair.index(equals, offsetBy: 2)..<pair.index(before: pair.endIndex)])
                }
            } else {
                name = String(series)
            }
            samples.append((name, labels, value))
        }
        self.samples = samples
    }

    /// The value of the series `name` whose labels include `labels` (nil when there is none); with several,
    /// their sum.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// The label sets of the series named `name`.
    func series(_ name: String) -> [[String: String]] { samples.filter { $0.name == name }.map(\.labels) }

    /// Whether a family has HELP and TYPE lines.
    func hasHelp(_ family: String) -> Bool {
        text.contains("# HELP \(family) ") && text.contains("# TYPE \(family) ")
    }
}

enum HTTP {
    /// GET `url`; the status and body.
    static func get(_ url: String) async throws -> (status: Int, body: String, contentType: String?) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 32 << 20)
        return (Int(response.status.code), String(buffer: body), response.headers.first(name: "Content-Type"))
    }

    /// The scrape at `url`, which must answer 200 in the Prometheus text format.
    static func scrape(_ url: String) async throws -> Scrape {
        let (status, body, contentType) = try await get(url)
        guard status == 200 else { throw KajiTestingError("GET \(url) answered \(status): \(body.prefix(500))") }
        guard contentType?.hasPrefix("text/plain; version=0.0.4") == true else { throw KajiTestingError("GET \(url): content type \(contentType ?? "none")") }
        return try Scrape(body)
    }
}

/// Debian's promtool (scripts/setup.sh installs the prometheus package).
enum Promtool {
    static var path: String {
        get throws {
            for candidate in ["/usr/bin/promtool", "/usr/local/bin/promtool"] where FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
            throw KajiTestingError("promtool not found: run scripts/setup.sh (apt-get install prometheus)")
        }
    }

    /// `promtool ARGS…`, with `stdin` fed from a file holding the given text.
    static func run(_ arguments: [String], stdin text: String? = nil) async throws -> CommandResult {
        var input: String?
        if let text {
            input = TestEnvironment.temporaryPath("promtool-input.txt", prefix: "kaji-promtool")
            try text.write(toFile: input!, atomically: true, encoding: .utf8)
        }
        return try await ChildProcess.run(try path, arguments, stdin: input, timeout: .seconds(120))
    }

    /// `promtool check metrics` on an exposition: its result (0 when clean; problems on stdout/stderr).
    static func checkMetrics(_ exposition: String) async throws -> CommandResult {
        try await run(["check", "metrics"], stdin: exposition)
    }
}

extension KajiProcess {
    /// The rest of the first stdout line that starts with `prefix`, waiting for it (the process must keep
    /// running meanwhile).
    func line(startingWith prefix: String, timeout: Duration = .seconds(60)) async throws -> String {
        var found: String?
        try await eventually("the process prints a line starting with '\(prefix)'", timeout: timeout, every: .milliseconds(50)) {
            if let line = self.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                found = String(line.dropFirst(prefix.count))
                return true
            }
            guard self.isRunning else { throw KajiTestingError("the process exited: \(self.stderr.suffix(2000))") }
            return false
        }
        return found ?? ""
    }
}
