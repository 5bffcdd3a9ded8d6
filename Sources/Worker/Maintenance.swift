import Engine
import Foundation
import Logging

/// Housekeeping every worker does about once a second besides running work: whatever must happen however
/// many workers run (schedules, audit sealing, retention). Each task must be safe to run from every worker
/// at once (advisory locks or SKIP LOCKED) and cheap when there is nothing to do.
public struct Maintenance: Sendable {
    public let store: RunStore
    public let worker: String
    public let logger: Logger

    public init(store: RunStore, worker: String, logger: Logger) {
        self.store = store
        self.worker = worker
        self.logger = logger
    }

    /// One round of housekeeping. Errors are logged by the caller and the next round tries again.
    public func tick() async throws {
        // Filled in by the coordination features (schedules, audit sealing, retention).
    }
}
