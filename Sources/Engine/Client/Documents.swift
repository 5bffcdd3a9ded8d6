import Foundation

// The JSON documents the faces print or send (`kaji … --json`, the HTTP API): a stable interface, see the
// README's "JSON output". Each is built from the client's model of the same thing.

/// Stored JSON text, re-emitted as JSON (not as a string); text that is not JSON becomes a string.
public struct JSONFragment: Codable, Sendable, Equatable {
    public let value: JSONValue

    public init(_ text: String) {
        value = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
    }

    public init(value: JSONValue) { self.value = value }

    public init(from decoder: any Decoder) throws { value = try JSONValue(from: decoder) }

    public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }

    /// The value as one line of JSON with sorted keys (a string value as its text), the same whether it
    /// came from the database or from a server's answer: what the CLI's human output prints.
    public var text: String {
        if case .string(let string) = value { return string }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// A run with its steps and audit events: the `kaji show --json` document.
public struct RunDocument: Codable, Sendable {
    public let id: UUID
    public let kind: String
    public let state: RunState
    public let queue: String
    public let priority: Int
    public let attempt: Int
    public let maxAttempts: Int
    public let epoch: Int64
    public let actor: String
    public let idempotencyKey: String?
    public let concurrencyKey: String?
    public let cancelRequestedBy: String?
    public let cancelReason: String?
    public let createdAt: Date
    public let runAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let lastError: String?
    public let input: JSONFragment
    public let output: JSONFragment?
    public let steps: [Step]
    public let events: [Event]

    /// A step with its attempts.
    public struct Step: Codable, Sendable {
        public let name: String
        public let state: StepState
        public let attempts: Int
        public let epoch: Int64
        public let worker: String?
        public let startedAt: Date?
        public let finishedAt: Date?
        public let durationMs: Double?
        public let error: String?
        public let result: JSONFragment?
        public let wait: JSONFragment?
        public let history: [StepAttemptRecord]

        public init(_ s: StepRecord) {
            name = s.name; state = s.state; attempts = s.attempts; epoch = s.epoch; worker = s.worker; startedAt = s.startedAt
            finishedAt = s.finishedAt; durationMs = s.durationMs; error = s.error; result = s.result.map(JSONFragment.init)
            wait = s.wait.map(JSONFragment.init); history = s.history
        }
    }

    /// An audit event of the run.
    public struct Event: Codable, Sendable {
        public let id: Int64
        public let at: Date
        public let type: String
        public let actor: String
        public let step: String?
        public let attempt: Int?
        public let epoch: Int64?
        public let worker: String?
        public let detail: JSONFragment?
    }

    public init(_ d: RunDetail) {
        id = d.run.id; kind = d.run.kind; state = d.run.state; queue = d.run.queue; priority = d.run.priority
        attempt = d.run.attempt; maxAttempts = d.run.maxAttempts; epoch = d.run.epoch; actor = d.run.actor
        idempotencyKey = d.run.idempotencyKey; concurrencyKey = d.run.concurrencyKey
        cancelRequestedBy = d.run.cancelRequestedBy; cancelReason = d.run.cancelReason; createdAt = d.run.createdAt; runAt = d.run.runAt
        startedAt = d.run.startedAt; finishedAt = d.run.finishedAt; lastError = d.run.lastError
        input = JSONFragment(d.input); output = d.output.map(JSONFragment.init)
        steps = d.steps.map(Step.init)
        events = d.events.map { e in
            Event(id: e.id, at: e.at, type: e.type, actor: e.actor, step: e.step, attempt: e.attempt, epoch: e.epoch, worker: e.worker,
                  detail: e.detail.map(JSONFragment.init))
        }
    }
}

/// An audit event: the `kaji audit --json` document (the fields of `RunDocument.Event`, plus `runId`).
public struct AuditEventDocument: Codable, Sendable {
    public let id: Int64
    public let at: Date
    public let runId: UUID?
    public let type: String
    public let actor: String
    public let step: String?
    public let attempt: Int?
    public let epoch: Int64?
    public let worker: String?
    public let detail: JSONFragment?

    public init(_ e: AuditEvent) {
        id = e.id; at = e.at; runId = e.runId; type = e.type; actor = e.actor; step = e.step; attempt = e.attempt; epoch = e.epoch
        worker = e.worker; detail = e.detail.map(JSONFragment.init)
    }
}

/// A schedule: the `kaji schedule … --json` document.
public struct ScheduleDocument: Codable, Sendable {
    public let name: String
    public let cron: String
    public let timezone: String
    public let kind: String
    public let input: JSONFragment
    public let queue: String
    public let priority: Int
    public let concurrencyKey: String?
    public let paused: Bool
    public let nextRunAt: Date
    public let lastTickAt: Date?
    public let lastRunId: UUID?
    public let createdBy: String
    public let createdAt: Date

    public init(_ s: Schedule) {
        name = s.name; cron = s.cron; timezone = s.timezone; kind = s.kind; input = JSONFragment(s.input); queue = s.queue
        priority = s.priority; concurrencyKey = s.concurrencyKey; paused = s.paused; nextRunAt = s.nextRunAt; lastTickAt = s.lastTickAt; lastRunId = s.lastRunId
        createdBy = s.createdBy; createdAt = s.createdAt
    }
}

/// The error document of a face: `{"error": {"code", "message", "field"}}`.
public struct ErrorDocument: Codable, Sendable, Equatable {
    public var error: KajiError

    public init(_ error: KajiError) { self.error = error }
}
