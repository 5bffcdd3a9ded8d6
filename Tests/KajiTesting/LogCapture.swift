import Logging
import Synchronization

/// Collects every log line (level, label, message and metadata) in memory, for tests that assert what was
/// (or was not) logged, and that no secret was.
package final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    package init() {}

    package var text: String { lines.withLock { $0.joined(separator: "\n") } }

    package func append(_ line: String) { lines.withLock { $0.append(line) } }

    package func handler(label: String) -> LogHandler { CapturingLogHandler(label: label, capture: self) }

    /// A logger at `level` whose lines land here.
    package func logger(_ label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { label in self.handler(label: label) }
        logger.logLevel = level
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(explicit ?? [:]) { $1 }
        let meta = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(level) \(label): \(message) \(meta)")
    }
}
