import Engine

/// How the CLI names the fields of the engine's errors: the engine speaks of `queue` or `concurrencyKey`
/// (the caller's terms, shared with the HTTP API); the CLI's messages name its flags.
enum ErrorFields {
    /// Field (top-level name) → the flag or argument that sets it.
    static let flags: [String: String] = [
        "queue": "--queue",
        "priority": "--priority",
        "idempotencyKey": "--idempotency-key",
        "concurrencyKey": "--concurrency-key",
        "payload": "--payload",
        "reason": "--reason",
        "cron": "--cron",
        "timezone": "--timezone",
        "runAt": "--at",
        "limit": "--limit",
        "state": "--state",
        "olderThan": "--older-than",
        "batchSize": "--batch-size",
        "since": "--since",
        "expectHead": "--expect-head",
        "databaseURL": "--database-url",
        "jobs": "--jobs",
        "history": "--history",
        "workflows": "--workflows",
        "steps": "--steps",
        "rate": "--rate",
        "role": "--role",
        "expires": "--expires",
        "cursor": "--cursor",
    ]

    /// The error's message with its leading field named as the CLI names it.
    static func message(_ error: KajiError) -> String {
        error.message(naming: { flags[$0] })
    }
}
