import Foundation

extension KajiClient {
    /// Creates a schedule after checking everything a tick will need: its name, cron, time zone, queue,
    /// priority, and the kind and input against the registered workflows. Bad input stores nothing. Like
    /// `enqueue`, a kind with a concurrency-key rule gets its key (or refuses a different one).
    public func addSchedule(_ request: ScheduleRequest) async throws -> Schedule {
        try Schedule.validate(name: request.name)
        _ = try CronExpression.parse(request.cron, as: "cron")
        _ = try CronExpression.timeZone(request.timezone)
        try Self.validate(queue: request.queue, priority: request.priority, idempotencyKey: nil)
        if let key = request.concurrencyKey, key.isEmpty || key.count > 200 {
            throw KajiError(.invalidArgument, "--concurrency-key must be 1-200 characters (e.g. cluster:prod-a)")
        }
        try registry.validate(kind: request.kind, input: request.input)
        var request = request
        request.concurrencyKey = try registry.concurrencyKey(kind: request.kind, input: request.input, given: request.concurrencyKey)
        let policy = try registry.retryPolicy(kind: request.kind)
        return try await store.addSchedule(request, maxAttempts: policy.maxAttempts)
    }
}
