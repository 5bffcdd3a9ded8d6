import Engine
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A worker process's pool: claims runs in batches (woken by LISTEN/NOTIFY, with a polling fallback), runs
/// up to `concurrency` at once, renews their leases, rescues runs whose worker died, and drains on
/// graceful shutdown (no new claims; running steps finish or their runs are given back).
public final class WorkerPool: Service, Sendable {
    public typealias OutcomeHandler = @Sendable (ClaimedRun, RunOutcome) -> Void

    public let configuration: WorkerConfiguration
    let store: RunStore
    let executor: RunExecutor
    let logger: Logger
    let onOutcome: OutcomeHandler?
    /// The kinds this pool can run: it claims no other.
    let kinds: [String]
    /// Slots, claims, renewals, leases lost and rescues (the executor counts runs and steps).
    let poolMetrics: WorkerMetrics

    /// One execution of a run: the same run claimed again under a newer epoch (after this pool's own
    /// execution lost it) is another entry, so neither can overwrite or remove the other.
    private struct ExecutionKey: Hashable {
        let run: UUID
        let epoch: Int64
    }

    private struct Active {
        let run: ClaimedRun
        let lease: LeaseToken
        let task: Task<Void, Never>
        let control: RunControl
    }

    private struct State {
        var active: [ExecutionKey: Active] = [:]
        /// Slots promised to claims in flight.
        var reserved = 0
        var claimsInFlight = 0
        var draining = false
        var wake: AsyncStream<Void>.Continuation?
        /// Where `run()` is (starting, claiming, draining, stopping helpers, deregistering, stopped): said
        /// by `phase` when a shutdown takes longer than it should.
        var phase = "not started"
    }

    private let state = Mutex(State())
    /// Finished when `run()` returns.
    private let stopped = AsyncStream.makeStream(of: Void.self)

    /// Returns once `run()` has returned (drained and deregistered), or when the caller is cancelled.
    public func waitUntilStopped() async {
        for await _ in stopped.stream {}
    }

    /// - Parameter metrics: where the pool and its executor count runs, steps, slots and leases (default:
    ///   `MetricsSystem.factory`, a no-op unless the process bootstrapped one).
    package init(configuration: WorkerConfiguration, store: RunStore, registry: WorkflowRegistry, logger: Logger,
                 metrics: EngineMetrics = EngineMetrics(), onOutcome: OutcomeHandler? = nil) {
        self.configuration = configuration
        self.store = store
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
        self.executor = RunExecutor(store: store, registry: registry, worker: configuration.id, logger: logger, inlineRetryLimit: configuration.inlineRetryLimit,
                                    metrics: metrics)
        self.poolMetrics = WorkerMetrics(factory: metrics.factory)
        self.onOutcome = onOutcome
        self.kinds = registry.kinds
    }

    /// Runs currently executing in this process.
    public var activeCount: Int { state.withLock { $0.active.count } }

    /// Where `run()` is, and the runs still active: for a caller whose wait for the pool to stop ran out.
    public var phase: String {
        state.withLock { state in
            let runs = state.active.values.map { "\($0.run.id) (epoch \($0.run.epoch), \($0.control.cancelReason.map { "\($0)" } ?? "no stop reason"))" }
            return "\(state.phase); draining: \(state.draining); claims in flight: \(state.claimsInFlight); active runs: \(runs.isEmpty ? "none" : runs.joined(separator: ", "))"
        }
    }

    private func enter(_ phase: String) {
        state.withLock { $0.phase = phase }
    }

    /// Stops claiming and drains, as on SIGTERM. `run()` returns when the drain is over.
    public func shutdown() {
        state.withLock { state in
            state.draining = true
            state.wake?.finish()
        }
    }

    public func run() async throws {
        defer { stopped.continuation.finish() }
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { state in
            state.wake = wake
            state.phase = "starting"
            // Shut down before it ran: the claim loop must end at once, not wait for a wake that never comes.
            if state.draining { wake.finish() }
        }
        try await store.registerWorker(id: configuration.id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                                       queues: configuration.queues, concurrency: configuration.concurrency)
        logger.info("worker started", metadata: ["queues": "\(configuration.queues.joined(separator: ","))", "concurrency": "\(configuration.concurrency)"])
        poolMetrics.slots(busy: 0, free: configuration.concurrency)
        wake.yield()

        let helpers = Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    let queues = Set(self.configuration.queues)
                    await self.listenLoop(channel: self.store.config.notifyChannel) { payload in
                        if queues.contains(payload) { _ = self.state.withLock { $0.wake?.yield() } }
                    }
                }
                group.addTask {
                    await self.listenLoop(channel: self.store.config.notifyChannel + "_cancel") { payload in
                        if let id = UUID(uuidString: payload) { self.cancelRequested(id) }
                    }
                }
                group.addTask { await self.pollLoop() }
                group.addTask { await self.leaseLoop() }
                group.addTask { await self.leaseWatch() }
                group.addTask { await self.rescueLoop() }
                group.addTask { await self.maintenanceLoop() }
            }
        }
        enter("claiming")
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await self.claimLoop(wakes)
            } onCancel: {
                self.shutdown()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        enter("draining")
        await drain()
        enter("stopping its background loops")
        helpers.cancel()
        await helpers.value
        enter("deregistering")
        let store = self.store, id = configuration.id
        _ = try? await withDeadline(.seconds(5)) { try await store.deregisterWorker(id: id, reason: "drained") }
        enter("stopped")
        logger.info("worker stopped")
    }

    // MARK: claiming

    /// Claims run concurrently (up to `maxClaimsInFlight`), each for slots reserved up front, so that a
    /// busy pool refills its slots without waiting for one claim round trip after another.
    private func claimLoop(_ wakes: AsyncStream<Void>) async {
        await withDiscardingTaskGroup { group in
            for await _ in wakes {
                while let limit = reserveSlots() {
                    group.addTask { await self.claim(limit) }
                }
            }
        }
    }

    /// Reserves slots for one claim, or nil when none should start now.
    private func reserveSlots() -> Int? {
        state.withLock { state in
            let free = configuration.concurrency - state.active.count - state.reserved
            guard !state.draining, free > 0, state.claimsInFlight < Self.maxClaimsInFlight else { return nil }
            // While busy, wait until a few slots are free, so that one claim brings several runs.
            if state.active.count + state.reserved > 0 && free < claimThreshold { return nil }
            let limit = min(free, configuration.claimBatch)
            state.reserved += limit
            state.claimsInFlight += 1
            return limit
        }
    }

    private func claim(_ limit: Int) async {
        var claimed: [ClaimedRun] = []
        // The lease starts no earlier than this, by the database's clock: by ours it is held until then
        // plus the lease, less the margin.
        let sentAt = ContinuousClock.now
        do {
            let store = self.store, id = configuration.id, queues = configuration.queues, kinds = self.kinds, lease = configuration.leaseSeconds
            // Bounded: a claim that hangs on a dropped connection would hold its reserved slots for good. A
            // claim that answers later is lost to this worker; its runs' leases run out and they are rescued.
            guard let runs = try await withDeadline(Self.databaseCallLimit, {
                try await store.claimRuns(worker: id, queues: queues, kinds: kinds, limit: limit, leaseSeconds: lease)
            }) else {
                throw KajiError(.databaseUnavailable, "the claim did not answer within \(Self.databaseCallLimit)")
            }
            claimed = runs
            poolMetrics.claimed(runs: runs.count, duration: ContinuousClock.now - sentAt)
        } catch {
            poolMetrics.claimFailed(duration: ContinuousClock.now - sentAt)
            logger.error("claiming failed; trying again", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            try? await Task.sleep(for: .milliseconds(500))
        }
        let receivedAt = ContinuousClock.now
        for run in claimed { start(run, leaseFrom: sentAt, receivedAt: receivedAt) }
        let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
            state.reserved -= limit
            state.claimsInFlight -= 1
            return state.wake
        }
        // A full batch means more work is waiting.
        if claimed.count == limit { wake?.yield() }
    }

    private static let maxClaimsInFlight = 3

    /// How long a claim or a rescue may take before it counts as failed (and is tried again).
    private static let databaseCallLimit: Duration = .seconds(30)

    /// While runs are active, claim only once this many slots are free (a quarter of the pool).
    private var claimThreshold: Int { max(1, min(configuration.claimBatch, configuration.concurrency / 4)) }

    private func start(_ run: ClaimedRun, leaseFrom sentAt: ContinuousClock.Instant, receivedAt: ContinuousClock.Instant) {
        let control = RunControl()
        control.leaseHeld(until: sentAt + configuration.leaseValidity)
        let key = ExecutionKey(run: run.id, epoch: run.epoch)
        let busy = state.withLock { state -> Int in
            // Claimed just as the drain began: give it back at its first step.
            if state.draining { control.stopAtNextStep() }
            let task = Task {
                let outcome = await self.executor.execute(run, control: control, claimedAt: receivedAt)
                self.finished(key, run, outcome)
            }
            state.active[key] = Active(run: run, lease: LeaseToken(run, worker: configuration.id), task: task, control: control)
            return state.active.count
        }
        poolMetrics.slots(busy: busy, free: configuration.concurrency - busy)
    }

    private func finished(_ key: ExecutionKey, _ run: ClaimedRun, _ outcome: RunOutcome) {
        let (wake, busy) = state.withLock { state -> (AsyncStream<Void>.Continuation?, Int) in
            state.active[key] = nil
            return (state.wake, state.active.count)
        }
        poolMetrics.slots(busy: busy, free: configuration.concurrency - busy)
        onOutcome?(run, outcome)
        wake?.yield()
        // A run suspended until shortly (a poll, a short sleep, a step retry) would otherwise wait for the
        // next poll of the queue: wake this worker when it is due.
        switch outcome {
        case .suspended(_, let until), .retrying(let until):
            let delay = until.timeIntervalSinceNow
            if delay > 0 && delay < configuration.pollInterval.seconds {
                Task {
                    try? await Task.sleep(for: .milliseconds(Int64(delay * 1000) + 1))
                    _ = self.state.withLock { $0.wake?.yield() }
                }
            }
        default:
            break
        }
    }

    // MARK: draining

    private func drain() async {
        let running = state.withLock { $0.active.values.map { ($0.task, $0.control) } }
        guard !running.isEmpty else { return }
        // Running steps finish; each run is then given back at its next step boundary.
        for (_, control) in running { control.stopAtNextStep() }
        let tasks = running.map(\.0)
        logger.info("draining", metadata: ["running": "\(tasks.count)", "deadline_s": "\(configuration.drainTimeout.seconds)"])
        let deadline = configuration.drainTimeout
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for task in tasks { await task.value }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return false
            }
            let finishedInTime = await group.next() ?? false
            if !finishedInTime {
                let remaining = self.state.withLock { $0.active.values.map { ($0.task, $0.control) } }
                self.logger.warning("drain deadline passed; giving runs back", metadata: ["running": "\(remaining.count)"])
                for (task, control) in remaining {
                    control.set(.drain)
                    task.cancel()
                }
            }
            group.cancelAll()
        }
        // Cancelled runs give their lease back at their next database write. One that does not end within
        // another drain timeout (a step ignoring cancellation) is left behind: its lease runs out and another
        // worker resumes it, and the fence refuses whatever it still writes. A shutdown never hangs on it.
        let left = state.withLock { $0.active.values.map(\.task) }
        guard !left.isEmpty else { return }
        let ended: Bool? = try? await withDeadline(deadline) {
            for task in left { await task.value }
            return true
        }
        if ended == nil {
            let stuck = state.withLock { $0.active.values.map { "\($0.run.id)" } }
            if !stuck.isEmpty {
                logger.error("runs did not stop after their cancellation; leaving them to lease expiry and rescue", metadata: ["runs": "\(stuck.joined(separator: ","))"])
            }
        }
    }

    // MARK: background loops

    private func pollLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.pollInterval)
            _ = state.withLock { $0.wake?.yield() }
        }
    }

    /// Keeps a LISTEN connection on `channel` open, handing each payload to `handle`; reconnects after a
    /// second when it drops (polling covers the gap).
    private func listenLoop(channel: String, _ handle: @escaping @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do {
                let connection = try await store.config.connect(logger: logger)
                do {
                    try await connection.guardedListen(on: channel) { notifications in
                        _ = self.state.withLock { $0.wake?.yield() }
                        for try await note in notifications { handle(note.payload) }
                    }
                } catch {
                    if !Task.isCancelled { logger.warning("LISTEN connection lost; polling until it is back", metadata: ["channel": "\(channel)", "error": "\(DatabaseConfig.describe(error))"]) }
                }
                // In the background: closing a connection the server dropped can hang.
                Task { try? await connection.close() }
            } catch {
                logger.warning("cannot open the LISTEN connection; polling", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// A cancel was requested for a run: if it runs here, its running step sees Task cancellation.
    private func cancelRequested(_ id: UUID) {
        let entries = state.withLock { $0.active.values.filter { $0.run.id == id } }
        for entry in entries where entry.control.cancelReason == nil && !entry.run.cancelRequested {
            logger.info("cancel requested; stopping the run", metadata: ["run": "\(id)", "epoch": "\(entry.run.epoch)"])
            entry.control.set(.cancelRequested)
            entry.task.cancel()
        }
    }

    /// Renews the leases of every run executing here, and the worker's heartbeat, every third of the
    /// lease, on a connection of its own (never queued behind claims, checkpoints, the audit sealer or
    /// prune) with a statement timeout. A failed renewal is tried again at once on a fresh connection.
    private func leaseLoop() async {
        let interval = Duration.milliseconds(Int64(configuration.leaseSeconds * 1000 / 3))
        let timeout = configuration.renewalTimeout
        var connection: PostgresConnection?
        var failures = 0
        while !Task.isCancelled {
            let entries = state.withLock { Array($0.active.values) }
            let sentAt = ContinuousClock.now
            do {
                logger.trace("renewing leases", metadata: ["runs": "\(entries.count)", "connected": "\(connection != nil)"])
                if let dropped = connection, dropped.isClosed { connection = nil }
                if connection == nil { connection = try await store.openLeaseConnection(statementTimeout: timeout) }
                let kept = try await renew(entries.map(\.lease), on: connection!, timeout: timeout)
                if failures > 0 { logger.info("lease renewal works again", metadata: ["failures": "\(failures)"]) }
                failures = 0
                var missing: [Active] = []
                for entry in entries {
                    if let cancelling = kept[entry.lease] {
                        entry.control.leaseHeld(until: sentAt + configuration.leaseValidity)
                        if cancelling { cancelRequested(entry.run.id) }
                    } else if entry.control.cancelReason == nil {
                        missing.append(entry)
                    }
                }
                for entry in await lost(missing) {
                    logger.warning("lease lost; stopping the run here (another worker owns it now)", metadata: ["run": "\(entry.run.id)", "epoch": "\(entry.run.epoch)"])
                    poolMetrics.leaseLost(reason: "taken_over")
                    entry.control.set(.leaseLost)
                    entry.task.cancel()
                }
                try? await Task.sleep(until: sentAt + interval, clock: .continuous)
            } catch {
                if Task.isCancelled { break }
                failures += 1
                poolMetrics.renewalFailed()
                if failures == 1 || failures % 20 == 0 {
                    logger.error("lease renewal failed; trying again on a fresh connection", metadata: ["failures": "\(failures)", "error": "\(DatabaseConfig.describe(error))"])
                }
                // Closed in the background: closing a connection the server dropped can hang.
                if let stale = connection { connection = nil; Task { try? await stale.close() } }
                try? await Task.sleep(for: .milliseconds(Int64(min(1000, 50 * failures))))
            }
        }
        if let connection { Task { try? await connection.close() } }
    }

    /// Of the executions a renewal did not renew, those that lost their run (`RunStore.takenOver`: a
    /// renewal also misses every run that just finished, suspended or was released). One query for all of
    /// them; when it cannot be answered now, the next renewal decides.
    private func lost(_ missing: [Active]) async -> [Active] {
        let current = missing.filter { entry in state.withLock { $0.active[ExecutionKey(run: entry.run.id, epoch: entry.run.epoch)] != nil } }
        guard !current.isEmpty else { return [] }
        let store = self.store, worker = configuration.id, leases = current.map(\.lease)
        guard let taken = try? await withDeadline(Self.databaseCallLimit, { try await store.takenOver(worker: worker, leases: leases) }) else { return [] }
        return current.filter { taken.contains($0.lease) }
    }

    /// One renewal, bounded on this side too (a server that stopped answering does not time statements
    /// out, and a query on a connection the server dropped can hang): past half the lease it counts as
    /// failed and the loop moves on to a fresh connection.
    private func renew(_ leases: [LeaseToken], on connection: PostgresConnection, timeout: Duration) async throws -> [LeaseToken: Bool] {
        let store = self.store, id = configuration.id, seconds = configuration.leaseSeconds
        let patience = max(timeout, .milliseconds(Int64(seconds * 1000 / 2)))
        guard let kept = try await withDeadline(patience, { try await store.renewLeases(worker: id, leases: leases, leaseSeconds: seconds, on: connection) }) else {
            throw KajiError(.databaseUnavailable, "lease renewal did not answer within \(patience)")
        }
        return kept
    }

    /// Stops, by this process's own clock, every run whose lease this worker could not renew in time
    /// (lease less a margin since the last renewal was sent): its running step sees Task cancellation and
    /// `checkLease()` refuses, before the rescuer of any worker may take the run (lease plus grace).
    private func leaseWatch() async {
        let tick = Duration.milliseconds(Int64(max(50, min(500, configuration.leaseSeconds * 1000 / 10))))
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let overdue = state.withLock { $0.active.values.filter { ($0.control.leaseHeldUntil.map { now >= $0 } ?? false) && $0.control.cancelReason == nil } }
            for entry in overdue {
                logger.error("lease not renewed in time (database slow or unreachable); stopping the run's side effects before another worker may take it",
                             metadata: ["run": "\(entry.run.id)", "epoch": "\(entry.run.epoch)"])
                poolMetrics.leaseLost(reason: "not_renewed")
                entry.control.set(.leaseLost)
                entry.task.cancel()
            }
        }
    }

    private func maintenanceLoop() async {
        let maintenance = Maintenance(store: store, worker: configuration.id, logger: logger)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int64(1000 * Double.random(in: 0.8...1.2))))
            if Task.isCancelled { break }
            do {
                // Bounded generously (a prune pass may be long): a hung round must not stop every later one.
                guard try await withDeadline(.seconds(300), { try await maintenance.tick() }) != nil else {
                    throw KajiError(.databaseUnavailable, "a maintenance round did not end within 300 s")
                }
            } catch {
                logger.error("maintenance failed; will try again", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            }
        }
    }

    private func rescueLoop() async {
        while !Task.isCancelled {
            let base = configuration.rescueInterval.seconds
            try? await Task.sleep(for: .milliseconds(Int64(base * 1000 * Double.random(in: 0.75...1.25))))
            if Task.isCancelled { break }
            do {
                let mine = state.withLock { $0.active.keys.map(\.run) }
                let store = self.store, actor = "worker:\(configuration.id)", grace = configuration.rescueGrace
                guard let rescued = try await withDeadline(Self.databaseCallLimit, {
                    try await store.rescueExpiredLeases(actor: actor, grace: grace, excluding: mine)
                }) else {
                    throw KajiError(.databaseUnavailable, "the rescue did not answer within \(Self.databaseCallLimit)")
                }
                if rescued > 0 { logger.warning("rescued runs whose lease expired", metadata: ["count": "\(rescued)"]) }
                poolMetrics.rescued(rescued)
            } catch {
                logger.error("rescue failed; will try again", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            }
        }
    }
}
