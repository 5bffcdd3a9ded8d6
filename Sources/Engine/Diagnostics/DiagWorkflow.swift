import Foundation

/// `diag.steps`: a built-in workflow for smoke tests and benchmarks. It first sleeps durably `sleepMillis`
/// ms and waits for the signal `waitSignal` if asked; then each of its `steps` steps sleeps `stepMillis` ms
/// and returns its name; the first `failFirstAttempts` attempts of each step throw a retryable error.
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
        /// A signal to wait for before the steps (default none).
        public var waitSignal: String?
        /// A durable sleep before the steps, in ms (default 0).
        public var sleepMillis: Int

        public init(steps: Int = 3, stepMillis: Int = 0, failFirstAttempts: Int = 0, waitSignal: String? = nil, sleepMillis: Int = 0) {
            self.steps = steps
            self.stepMillis = stepMillis
            self.failFirstAttempts = failFirstAttempts
            self.waitSignal = waitSignal
            self.sleepMillis = sleepMillis
        }

        enum CodingKeys: String, CodingKey { case steps, stepMillis, failFirstAttempts, waitSignal, sleepMillis }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? 3
            stepMillis = try c.decodeIfPresent(Int.self, forKey: .stepMillis) ?? 0
            failFirstAttempts = try c.decodeIfPresent(Int.self, forKey: .failFirstAttempts) ?? 0
            waitSignal = try c.decodeIfPresent(String.self, forKey: .waitSignal)
            sleepMillis = try c.decodeIfPresent(Int.self, forKey: .sleepMillis) ?? 0
            if let waitSignal, waitSignal.isEmpty || waitSignal.count > 100 {
                throw DecodingError.dataCorruptedError(forKey: .waitSignal, in: c, debugDescription: "must be 1-100 characters")
            }
            guard (0...86_400_000).contains(sleepMillis) else {
                throw DecodingError.dataCorruptedError(forKey: .sleepMillis, in: c, debugDescription: "must be 0...86400000, got \(sleepMillis)")
            }
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
        /// Who sent the awaited signal, and its payload.
        public var signalSender: String?
        public var signalPayload: JSONValue?
    }

    private let logPath: String?

    /// - Parameter logPath: a file to append one line per finished step body (default `KAJI_DIAG_LOG`).
    public init(logPath: String? = ProcessInfo.processInfo.environment["KAJI_DIAG_LOG"]) {
        self.logPath = logPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func run(_ input: Input, context: WorkflowContext) async throws -> Output {
        var names: [String] = []
        var sender: String?
        var payload: JSONValue?
        if input.sleepMillis > 0 { try await context.sleep(for: .milliseconds(input.sleepMillis), name: "sleep") }
        if let signal = input.waitSignal {
            let received = try await context.waitForSignal(signal, as: JSONValue.self)
            sender = received.sender
            payload = received.payload
        }
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
        return Output(steps: names, signalSender: sender, signalPayload: payload)
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
