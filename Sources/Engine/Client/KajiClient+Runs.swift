import Foundation

/// Which runs `KajiClient.runs` lists (every filter optional).
public struct RunQuery: Sendable, Equatable {
    /// Only runs in this state (default: any).
    public var state: RunState?
    /// Only runs of this kind (default: any).
    public var kind: String?
    /// Only runs of this queue (default: any).
    public var queue: String?
    /// Only runs carrying this concurrency key, e.g. `cluster:prod-a` (default: any).
    public var concurrencyKey: String?
    /// Only runs enqueued by this actor, e.g. `token:ci-bot` (default: any).
    public var actor: String?
    /// The `nextCursor` of the page before (default nil: the first page).
    public var cursor: String?
    /// At most this many, newest first (default 50, 1...10000).
    public var limit: Int

    public init(state: RunState? = nil, kind: String? = nil, queue: String? = nil, concurrencyKey: String? = nil, actor: String? = nil,
                cursor: String? = nil, limit: Int = 50) {
        self.state = state
        self.kind = kind
        self.queue = queue
        self.concurrencyKey = concurrencyKey
        self.actor = actor
        self.cursor = cursor
        self.limit = limit
    }

    /// Checks the limit (field `limit`) and the cursor (field `cursor`).
    public func validate() throws {
        try KajiClient.validate(limit, in: 1...10_000, field: "limit")
        if let cursor { _ = try PageCursor.runID(cursor) }
    }
}

/// One page of runs, newest first: the `GET /api/v1/runs` document. `nextCursor` (nil on the last page)
/// asks for the runs after these, with the same filters.
public struct RunPage: Sendable, Codable {
    public var items: [RunSummary]
    public var nextCursor: String?

    public init(items: [RunSummary], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    private enum CodingKeys: String, CodingKey { case items, nextCursor }

    /// `nextCursor` is always there: null on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// The opaque cursors of paged lists: base64url of `KIND:POSITION`, so that a client passes them back
/// unchanged and a cursor of one list is refused by another.
enum PageCursor {
    static func make(_ kind: String, _ position: String) -> String {
        Data("\(kind):\(position)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func position(_ cursor: String, kind: String, field: String) throws -> String {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        guard cursor.count <= 200, let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8),
              decoded.hasPrefix(kind + ":") else {
            throw KajiError(.invalidArgument, "\(field) '\(cursor.prefix(200))' is not a cursor of this list: pass the nextCursor of the page before", field: field)
        }
        return String(decoded.dropFirst(kind.count + 1))
    }

    /// The cursor after the run `id`.
    static func after(run id: UUID) -> String { make("run", id.uuidString.lowercased()) }

    /// The run id a runs cursor points after; `invalidArgument` (field `cursor`) for anything else.
    static func runID(_ cursor: String) throws -> UUID {
        let position = try position(cursor, kind: "run", field: "cursor")
        guard let id = UUID(uuidString: position) else {
            throw KajiError(.invalidArgument, "cursor '\(cursor.prefix(200))' is not a cursor of this list: pass the nextCursor of the page before", field: "cursor")
        }
        return id
    }

    /// The cursor before the audit event `id`.
    static func before(auditEvent id: Int64) -> String { make("audit", String(id)) }

    /// The audit event id an audit cursor points before; `invalidArgument` (field `cursor`) for anything else.
    static func auditEventID(_ cursor: String) throws -> Int64 {
        let position = try position(cursor, kind: "audit", field: "cursor")
        guard let id = Int64(position), id > 0 else {
            throw KajiError(.invalidArgument, "cursor '\(cursor.prefix(200))' is not a cursor of this list: pass the nextCursor of the page before", field: "cursor")
        }
        return id
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
    /// Runs, newest first: the page `query.cursor` asks for (default the first).
    public func runs(_ query: RunQuery = RunQuery()) async throws -> [RunSummary] {
        try await runPage(query).items
    }

    /// One page of runs, newest first (by id: run ids are time-ordered), with the cursor of the next page
    /// when there are more. Walking the pages lists every run that existed when the walk began exactly once,
    /// whatever is enqueued meanwhile. Errors name `limit` or `cursor`.
    public func runPage(_ query: RunQuery) async throws -> RunPage {
        try query.validate()
        let before = try query.cursor.map { try PageCursor.runID($0) }
        // One more than asked for tells whether a next page exists.
        var runs = try await store.listRuns(state: query.state, kind: query.kind, queue: query.queue, concurrencyKey: query.concurrencyKey,
                                            actor: query.actor, before: before, limit: query.limit + 1)
        var next: String?
        if runs.count > query.limit {
            runs.removeLast(runs.count - query.limit)
            next = runs.last.map { PageCursor.after(run: $0.id) }
        }
        return RunPage(items: runs, nextCursor: next)
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
