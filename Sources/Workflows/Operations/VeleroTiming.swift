import Engine
import Foundation

/// How a Velero operation (backup, restore) waits: `--wait` on the node first, then durable polling.
struct VeleroTiming: Sendable {
    /// How long `velero … create --wait` may hold the worker slot; after it the command is left running on
    /// the node and the run polls durably instead (default 20 min).
    var waitDeadline: Duration = .seconds(20 * 60)
    /// Durable polling of the phase after that (default every 15 s, for up to 6 h).
    var pollEvery: Duration = .seconds(15)
    var pollTimeout: Duration = .seconds(6 * 3600)
    /// For the resolve and create steps (default 3 attempts, 2 s doubling).
    var retry = RetryPolicy(maxAttempts: 3, initialDelay: .seconds(2))
    /// The clock that names backups and restores (default `Date.init`).
    var now: @Sendable () -> Date = Date.init
}
