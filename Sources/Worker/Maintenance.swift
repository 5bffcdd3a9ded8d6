import Engine
import Foundation
import Logging
import Synchronization

/// Housekeeping every worker does about once a second besides running work: whatever must happen however
/// many workers run (schedules, audit sealing, retention). Each task must be safe to run from every worker
/// at once (advisory locks or SKIP LOCKED) and cheap when there is nothing to do.
public struct Maintenance: Sendable {
    package let store: RunStore
    public let worker: String
    public let logger: Logger
    /// Finished runs older than this are pruned (default: `KAJI_RETENTION`, e.g. `30d`; unset: never).
    public let retention: Duration?
    /// How often this worker prunes when retention is on (default 60 s).
    public let pruneInterval: Duration

    private final class State: Sendable {
        let lastPrune = Mutex<ContinuousClock.Instant?>(nil)
    }
    private let state = State()

    /// - Parameters:
    ///   - retention: prune finished runs older than this (default: `KAJI_RETENTION`, see
    ///     `Maintenance.environmentRetention`; nil: never).
    ///   - pruneInterval: time between prunes by this worker (default 60 s).
    package init(store: RunStore, worker: String, logger: Logger, retention: Duration? = Maintenance.environmentRetention(), pruneInterval: Duration = .seconds(60)) {
        self.store = store
        self.worker = worker
        self.logger = logger
        self.retention = retention
        self.pruneInterval = pruneInterval
    }

    /// `KAJI_RETENTION` parsed (e.g. `30d`, `12h`), nil when unset. An invalid value is logged as an error
    /// and leaves retention off (the worker command may check it first with `RetentionAge.fromEnvironment`).
    public static func environmentRetention() -> Duration? {
        do {
            return try RetentionAge.fromEnvironment()
        } catch {
            Logger(label: "kaji.maintenance").error("retention is off: \(error)")
            return nil
        }
    }

    private var actor: String { "worker:\(worker)" }

    /// One round of housekeeping: enqueue due schedule ticks, seal new audit events into the hash chain,
    /// and (at most once per `pruneInterval`) prune old finished runs. Each part runs even when another
    /// failed; the first error is rethrown for the caller to log, and the next round tries again.
    public func tick() async throws {
        var firstError: (any Error)?
        do {
            let firings = try await store.enqueueDueSchedules(actor: actor, worker: worker)
            for firing in firings where firing.created {
                logger.info("schedule ticked", metadata: ["schedule": "\(firing.schedule)", "run": "\(firing.runID)", "tick": "\(KajiJSON.format(firing.tick))"])
            }
        } catch {
            firstError = firstError ?? error
        }
        do {
            try await store.sealAudit(wait: false)
        } catch {
            firstError = firstError ?? error
        }
        if let retention, duePrune() {
            do {
                let result = try await store.pruneFinishedRuns(olderThan: retention, actor: actor, maxBatches: 20)
                if result.runs > 0 {
                    logger.info("pruned finished runs", metadata: ["count": "\(result.runs)", "finished_before": "\(KajiJSON.format(result.cutoff))"])
                }
            } catch {
                firstError = firstError ?? error
            }
        }
        // A round cut short by shutdown is not a failure worth logging.
        if let firstError, !Task.isCancelled { throw firstError }
    }

    private func duePrune() -> Bool {
        let now = ContinuousClock.now
        return state.lastPrune.withLock { last in
            if let previous = last, now - previous < pruneInterval { return false }
            last = now
            return true
        }
    }
}
