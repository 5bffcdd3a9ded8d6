import Foundation

/// A cron schedule that enqueues one run of `kind` with `input` per tick.
public struct Schedule: Sendable, Codable, Equatable {
    public var name: String
    /// The cron expression (see `CronExpression`).
    public var cron: String
    /// IANA zone the cron is read in (default `UTC`).
    public var timezone: String
    public var kind: String
    /// The input of every run, as JSON text.
    public var input: String
    public var queue: String
    public var priority: Int
    /// The runs' concurrency key (default none).
    public var concurrencyKey: String?
    public var maxAttempts: Int
    public var paused: Bool
    /// The next tick not yet enqueued.
    public var nextRunAt: Date
    /// The last tick that was enqueued, and its run.
    public var lastTickAt: Date?
    public var lastRunId: UUID?
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date
}

/// A request to create a schedule (checked by `KajiClient.addSchedule`).
public struct ScheduleRequest: Sendable {
    /// Unique name, 1-100 letters, digits and `- _ . :`.
    public var name: String
    /// Cron expression, e.g. `0 3 * * *` (5 fields, or 6 with leading seconds).
    public var cron: String
    /// IANA time zone (default `UTC`).
    public var timezone: String
    public var kind: String
    /// Input JSON of every run (default `{}`).
    public var input: String
    /// Queue of the runs (default `default`).
    public var queue: String
    /// Priority of the runs (default 0).
    public var priority: Int
    /// Concurrency key of the runs, e.g. `cluster:prod-a` (default none).
    public var concurrencyKey: String?
    /// Who creates it (audited).
    public var actor: String

    public init(name: String, cron: String, timezone: String = "UTC", kind: String, input: String = "{}", queue: String = "default", priority: Int = 0, concurrencyKey: String? = nil, actor: String) {
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.kind = kind
        self.input = input
        self.queue = queue
        self.priority = priority
        self.concurrencyKey = concurrencyKey
        self.actor = actor
    }
}

/// One tick a worker enqueued.
public struct ScheduleFiring: Sendable, Equatable {
    public var schedule: String
    /// The tick the run stands for (the latest due one when ticks were missed).
    public var tick: Date
    /// The first due tick not yet enqueued before this round; earlier than `tick` when ticks were missed.
    public var dueSince: Date
    public var runID: UUID
    /// False when the tick's run existed already (another worker enqueued it).
    public var created: Bool
    public var nextRunAt: Date?
}

extension KajiError.Code {
    /// No schedule with that name (exit code 1, like a missing run).
    public static let scheduleNotFound = KajiError.Code("schedule_not_found")
    /// No secret with that id (exit code 1).
    public static let secretNotFound = KajiError.Code("secret_not_found")
}

extension Schedule {
    /// The idempotency key of a schedule's tick: `schedule:NAME:ISO8601`.
    public static func idempotencyKey(name: String, tick: Date) -> String {
        "schedule:\(name):\(KajiJSON.format(tick))"
    }

    /// Checks a schedule name (it is part of idempotency keys and audit details).
    public static func validate(name: String) throws {
        guard !name.isEmpty, name.count <= 100, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
            throw KajiError(.invalidArgument, "schedule name '\(name)' is not valid: use 1-100 letters, digits and - _ . :", field: "name")
        }
    }
}
