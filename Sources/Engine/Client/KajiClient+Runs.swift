import Foundation

/// Which runs `KajiClient.runs` lists (every filter optional).
public struct RunQuery: Sendable, Equatable {
    /// Only runs in this state (default: any).
    public var state: RunState?
    /// Only runs of this kind (default: any).
    public var kind: String?
    /// At most this many, newest first (default 50, 1...10000).
    public var limit: Int

    public init(state: RunState? = nil, kind: String? = nil, limit: Int = 50) {
        self.state = state
        self.kind = kind
        self.limit = limit
    }

    /// Checks the limit (field `limit`).
    public func validate() throws {
        try KajiClient.validate(limit, in: 1...10_000, field: "limit")
    }
}

extension RunState {
    /// Parses a state name; the error (`invalidArgument`) names `field` and lists the states.
    public static func parse(_ text: String, field: String = "state") throws -> RunState {
        guard let state = RunState(rawValue: text) else {
            throw KajiError(.invalidArgument, "\(field) '\(text)' is not a run state (one of: \(allCases.map(\.rawValue).joined(separator: ", ")))", field: field)
        }
        return state
    }
}

/// What `KajiClient.cancel` did.
public enum CancelOutcome: String, Sendable, Codable {
    /// The run ended `cancelled` at once (it was pending, waiting or retrying).
    case cancelled
    /// The run is running (or has undo steps to run): it stops at its next step boundary.
    case requested
}

/// The answer to a cancel: the `kaji cancel --json` document.
public struct CancelReceipt: Sendable, Codable, Equatable {
    public var id: UUID
    public var outcome: CancelOutcome

    public init(id: UUID, outcome: CancelOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

extension KajiClient {
    /// Runs, newest first.
    public func runs(_ query: RunQuery = RunQuery()) async throws -> [RunSummary] {
        try query.validate()
        return try await store.listRuns(state: query.state, kind: query.kind, limit: query.limit)
    }

    /// One run's summary; throws `runNotFound` (field `run`) for an unknown id.
    public func runSummary(id: UUID) async throws -> RunSummary {
        guard let run = try await store.run(id: id) else { throw Self.notFound(id) }
        return run
    }

    /// Everything known about one run: its steps with their attempts and its audit events. Throws
    /// `runNotFound` (field `run`) for an unknown id.
    public func run(id: UUID) async throws -> RunDetail {
        guard let detail = try await store.runDetail(id: id) else { throw Self.notFound(id) }
        return detail
    }

    /// Follows a run: reads it every `every` (default 250 ms) and calls `onChange` with each reading, until
    /// `done` holds or the run has finished; returns the last reading. Throws `runNotFound` for an unknown
    /// id and `invalidState` when `timeout` passes first.
    @discardableResult
    public func watch(id: UUID, until done: @Sendable (RunDetail) -> Bool = { _ in false }, timeout: Duration,
                      every: Duration = .milliseconds(250), onChange: (RunDetail) throws -> Void = { _ in }) async throws -> RunDetail {
        let deadline = ContinuousClock.now + timeout
        while true {
            let detail = try await run(id: id)
            try onChange(detail)
            if done(detail) || detail.run.state.isFinished { return detail }
            guard ContinuousClock.now < deadline else {
                throw KajiError(.invalidState, "run \(id) did not get there within \(Int(timeout.components.seconds)) s (state \(detail.run.state.rawValue))")
            }
            try await Task.sleep(for: every)
        }
    }

    /// Starts a failed or cancelled run again from its first unfinished step; finished steps keep their
    /// results. Throws `runNotFound` or `invalidState`.
    public func retry(id: UUID, actor: String) async throws -> RunSummary {
        do {
            return try await store.retryRun(id: id, actor: actor)
        } catch let error as KajiError where error.code == .runNotFound {
            throw error.naming(field: "run")
        }
    }

    /// Cancels a run: one that is not running, and has no undo steps to run, ends `cancelled` at once;
    /// otherwise it stops at its next step boundary (undo steps first). Who asked and why is recorded.
    /// Refuses unknown (`runNotFound`) and finished (`invalidState`) runs.
    @discardableResult
    public func cancel(runID: UUID, reason: String?, actor: String) async throws -> CancelOutcome {
        let run = try await runSummary(id: runID)
        let outcome = try await store.requestCancel(runID: runID, actor: actor, reason: reason, kindHasCompensation: catalog.hasCompensation(kind: run.kind))
        return outcome == .cancelled ? .cancelled : .requested
    }

    static func notFound(_ id: UUID) -> KajiError {
        KajiError(.runNotFound, "no run with id \(id)", field: "run")
    }
}
