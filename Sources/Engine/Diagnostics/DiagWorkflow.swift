import Foundation

/// `diag.steps`: a built-in workflow for smoke tests and benchmarks. Each of its `steps` steps sleeps
/// `stepMillis` ms and returns its name; the first `failFirstAttempts` attempts of each step throw a
/// retryable error.
///
/// When `KAJI_DIAG_LOG` names a file, each finished step body appends one line `RUN STEP ATTEMPT EPOCH PID`
/// to it, so that tests can count executions outside the database.
public struct DiagWorkflow: Workflow {
    public static let kind = "diag.steps"

    public struct Input: Codable, Sendable {
        /// Number of steps (default 3, 0...10000).
        public var steps: Int
        /// Sleep per step in ms (default 0).
        public var stepMillis: Int
        /// Attempts of each step that fail first (default 0).
        public var failFirstAttempts: Int

        public init(steps: Int = 3, stepMillis: Int = 0, failFirstAttempts: Int = 0) {
            self.steps = steps
            self.stepMillis = stepMillis
            self.failFirstAttempts = failFirstAttempts
        }

        enum CodingKeys: String, CodingKey { case steps, stepMillis, failFirstAttempts }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? 3
            stepMillis = try c.decodeIfPresent(Int.self, forKey: .stepMillis) ?? 0
            failFirstAttempts = try c.decodeIfPresent(Int.self, forKey: .failFirstAttempts) ?? 0
            guard (0...10_000).contains(steps) else {
                throw DecodingError.dataCorruptedError(forKey: .steps, in: c, debugDescription: "must be 0...10000, got \(steps)")
            }
            guard (0...3_600_000).contains(stepMillis) else {
                throw DecodingError.dataCorruptedError(forKey: .stepMillis, in: c, debugDescription: "must be 0...3600000, got \(stepMillis)")
            }
            guard (0...100).contains(failFirstAttempts) else {
                throw DecodingError.dataCorruptedError(forKey: .failFirstAttempts, in: c, debugDescription: "must be 0...100, got \(failFirstAttempts)")
            }
        }
    }

    public struct Output: Codable, Sendable {
        public var steps: [String]
    }

    private let logPath: String?

    /// - Parameter logPath: a file to append one line per finished step body (default `KAJI_DIAG_LOG`).
    public init(logPath: String? = ProcessInfo.processInfo.environment["KAJI_DIAG_LOG"]) {
        self.logPath = logPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func run(_ input: Input, context: WorkflowContext) async throws -> Output {
        var names: [String] = []
        let policy = RetryPolicy(maxAttempts: input.failFirstAttempts + 3, initialDelay: .milliseconds(10), backoff: 2, maxDelay: .milliseconds(200))
        for index in stride(from: 1, through: input.steps, by: 1) {
            let name = "step-\(index)"
            let recorded = try await context.step(name, retry: policy) { step in
                if step.attempt <= input.failFirstAttempts {
                    throw WorkflowError("injected failure: attempt \(step.attempt) of the first \(input.failFirstAttempts)")
                }
                if input.stepMillis > 0 { try await Task.sleep(for: .milliseconds(input.stepMillis)) }
                if let logPath { DiagLog.append(path: logPath, line: "\(step.runID) \(name) \(step.totalAttempts) \(step.epoch) \(getpid())") }
                return name
            }
            names.append(recorded)
        }
        return Output(steps: names)
    }
}

/// Appends whole lines to a file with O_APPEND, so that several processes can share it.
enum DiagLog {
    static func append(path: String, line: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
