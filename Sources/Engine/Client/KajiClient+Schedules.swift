import Foundation

extension KajiClient {
    /// Checks a schedule request without storing anything: its name, cron, time zone, queue, priority,
    /// and the kind and input against the catalog. Errors name the field (`name`, `cron`, `timezone`,
    /// `queue`, `priority`, `concurrencyKey`, `kind`, `input`). Returns the request with the concurrency key
    /// the kind requires.
    public static func check(_ request: ScheduleRequest, catalog: WorkflowCatalog) throws -> ScheduleRequest {
        try Schedule.validate(name: request.name)
        do {
            _ = try CronExpression.parse(request.cron, as: "cron")
        } catch let error as KajiError {
            throw error.naming(field: "cron")
        }
        do {
            _ = try CronExpression.timeZone(request.timezone)
        } catch let error as KajiError {
            throw error.naming(field: "timezone")
        }
        try validate(queue: request.queue, priority: request.priority, idempotencyKey: nil)
        try validate(concurrencyKey: request.concurrencyKey)
        try catalog.validate(kind: request.kind, input: request.input)
        var request = request
        request.concurrencyKey = try catalog.concurrencyKey(kind: request.kind, input: request.input, given: request.concurrencyKey)
        return request
    }

    /// Creates a schedule after checking everything a tick will need (see `check`). Bad input stores
    /// nothing. Like `enqueue`, a kind with a concurrency-key rule gets its key (or refuses a different one).
    public func addSchedule(_ request: ScheduleRequest) async throws -> Schedule {
        let request = try Self.check(request, catalog: catalog)
        let policy = try catalog.retryPolicy(kind: request.kind)
        do {
            return try await store.addSchedule(request, maxAttempts: policy.maxAttempts)
        } catch let error as KajiError where error.code == .invalidArgument && error.field == nil && error.message.hasPrefix("cron ") {
            throw error.naming(field: "cron")  // a cron that never fires
        }
    }

    /// Every schedule, by name.
    public func schedules() async throws -> [Schedule] {
        try await store.listSchedules()
    }

    /// The schedule named `name`, or nil.
    public func schedule(name: String) async throws -> Schedule? {
        try await store.schedule(name: name)
    }

    /// Pauses a schedule (no ticks until it is resumed). Throws `scheduleNotFound`.
    public func pauseSchedule(name: String, actor: String) async throws -> Schedule {
        try await store.setSchedulePaused(name: name, paused: true, actor: actor)
    }

    /// Resumes a schedule from its next tick after now. Throws `scheduleNotFound`.
    public func resumeSchedule(name: String, actor: String) async throws -> Schedule {
        try await store.setSchedulePaused(name: name, paused: false, actor: actor)
    }

    /// Removes a schedule (the runs it enqueued stay). Throws `scheduleNotFound`.
    public func removeSchedule(name: String, actor: String) async throws {
        try await store.removeSchedule(name: name, actor: actor)
    }
}
