import Foundation

/// Where a follower of a run's changes stands (`KajiClient.runChanges`): the opaque text of an event
/// stream's `id:` line, which a client sends back as `Last-Event-ID` to go on where it stopped, with no
/// change lost or repeated.
///
/// Inside, it says which audit events the follower was shown: those visible in one database snapshot
/// (`settled`), plus, in the middle of a reading, those visible in a later one up to an id (`partly`).
public struct RunEventCursor: Sendable, Equatable, CustomStringConvertible {
    var settled: SnapshotHorizon
    var partly: SnapshotHorizon
    var partlyUpTo: Int64

    /// A follower that has seen nothing: every change of the run comes first.
    public static let start = RunEventCursor(settled: .nothing, partly: .nothing, partlyUpTo: 0)

    /// The longest text a cursor takes (bytes of UTF-8), as an `id:` line or a `Last-Event-ID` header.
    public static let maxLength = 16_384

    /// A cursor that claims less than this one and is shorter: without the partial snapshot, or, failing
    /// that, the start.
    var shorter: RunEventCursor {
        let settledOnly = RunEventCursor(settled: settled)
        return settledOnly.description.utf8.count <= Self.maxLength ? settledOnly : .start
    }

    init(settled: SnapshotHorizon, partly: SnapshotHorizon = .nothing, partlyUpTo: Int64 = 0) {
        self.settled = settled
        self.partly = partly
        self.partlyUpTo = partlyUpTo
    }

    /// Parses the text of `description`; `invalidArgument` naming `field` (default `Last-Event-ID`) for
    /// anything else.
    public init(parsing text: String, field: String = "Last-Event-ID") throws {
        let refused = KajiError(.invalidArgument, "\(field) '\(text.prefix(100))' is not an event id of this stream: send back the id: of the last event received", field: field)
        guard text.utf8.count <= Self.maxLength, text.hasPrefix("v1.") else { throw refused }
        let parts = text.dropFirst(3).split(separator: "~", omittingEmptySubsequences: false)
        func horizon(_ part: Substring) throws -> SnapshotHorizon {
            let numbers = part.split(separator: ".", omittingEmptySubsequences: false).map { UInt64($0) }
            guard let first = numbers.first, let xmax = first, numbers.allSatisfy({ $0 != nil }) else { throw refused }
            let running = numbers.dropFirst().compactMap { $0 }
            guard running.allSatisfy({ $0 < xmax }) else { throw refused }
            return SnapshotHorizon(xmax: xmax, inProgress: running)
        }
        switch parts.count {
        case 1:
            self.init(settled: try horizon(parts[0]))
        case 3:
            guard let upTo = Int64(parts[2]), upTo >= 0 else { throw refused }
            self.init(settled: try horizon(parts[0]), partly: try horizon(parts[1]), partlyUpTo: upTo)
        default:
            throw refused
        }
    }

    /// `v1.XMAX.XIP.XIP…` (settled), or that, `~`, the partial snapshot and `~ID`.
    public var description: String {
        func text(_ h: SnapshotHorizon) -> String { ([h.xmax] + h.inProgress).map(String.init).joined(separator: ".") }
        if partlyUpTo == 0 && partly == .nothing { return "v1." + text(settled) }
        return "v1." + text(settled) + "~" + text(partly) + "~" + String(partlyUpTo)
    }
}

/// One change of a run: one audit event of it (a step started, succeeded, failed or began to wait; the
/// run was claimed, suspended, retried, cancelled, finished; a signal arrived), with the run and the
/// event's step as they were read just after. The data of an event of `GET /api/v1/runs/{id}/events`.
public struct RunChange: Sendable, Codable {
    public var event: AuditEventDocument
    public var run: RunSummary
    /// The event's step (nil for an event of the whole run).
    public var step: RunDocument.Step?

    public init(event: AuditEventDocument, run: RunSummary, step: RunDocument.Step?) {
        self.event = event
        self.run = run
        self.step = step
    }
}

/// What `KajiClient.runChanges` read: the changes a follower had not seen, each with the cursor that
/// stands just after it, and where the follower stands after all of them.
public struct RunChanges: Sendable {
    public var changes: [(cursor: RunEventCursor, change: RunChange)]
    /// After every change here (and after this reading, when there was none).
    public var cursor: RunEventCursor
    /// Whether the run had finished in the reading: no change follows.
    public var finished: Bool
}

extension KajiClient {
    /// The changes of run `id` that the follower at `cursor` has not seen (default: all of them), in the
    /// order they became visible, then by id. Throws `runNotFound` (field `run`) for an unknown run.
    public func runChanges(id: UUID, after cursor: RunEventCursor = .start) async throws -> RunChanges {
        let round = try await store.runEventRound(runID: id, seen: cursor.settled, partly: cursor.partly, partlyUpTo: cursor.partlyUpTo)
        guard let state = round.state else { throw Self.notFound(id) }
        let now = RunEventCursor(settled: round.snapshot)
        guard !round.events.isEmpty else { return RunChanges(changes: [], cursor: now, finished: state.isFinished) }
        guard let run = try await store.run(id: id) else { throw Self.notFound(id) }
        let names = Array(Set(round.events.compactMap(\.event.step)))
        var steps: [String: RunDocument.Step] = [:]
        if !names.isEmpty {
            for record in try await store.stepRecords(runID: id, names: names) { steps[record.name] = RunDocument.Step(record) }
        }
        // The rest of a reading the follower saw part of (visible in `partly`, ids above the part) first:
        // after it the follower has seen everything visible in `partly`. Then what became visible since, by
        // id. Each change's cursor covers it and everything shown before it.
        let partial = cursor.partlyUpTo > 0
        let rest = round.events.filter { partial && cursor.partly.sees($0.xid) }
        let fresh = round.events.filter { !(partial && cursor.partly.sees($0.xid)) }
        var changes: [(cursor: RunEventCursor, change: RunChange)] = []
        for (event, _) in rest {
            changes.append((RunEventCursor(settled: cursor.settled, partly: cursor.partly, partlyUpTo: event.id), RunChange(event: event, run: run, steps: steps)))
        }
        let base = partial ? cursor.partly : cursor.settled
        for (event, _) in fresh {
            changes.append((RunEventCursor(settled: base, partly: round.snapshot, partlyUpTo: event.id), RunChange(event: event, run: run, steps: steps)))
        }
        // After the last change the follower has seen everything visible in this snapshot.
        changes[changes.count - 1].cursor = now
        // A cursor too long to send back (thousands of transactions running at once) gives way to one that
        // claims less: a resume may then repeat changes, never lose one.
        for index in changes.indices where changes[index].cursor.description.utf8.count > RunEventCursor.maxLength {
            changes[index].cursor = changes[index].cursor.shorter
        }
        return RunChanges(changes: changes, cursor: now, finished: state.isFinished)
    }

    /// Follows run `id` from `cursor` (default: its first change): calls `onChange` with each change as
    /// it becomes visible, reading every `every` (default 250 ms), until the run has finished; returns the
    /// cursor after the last change. Throws `runNotFound` for an unknown run and `invalidState` when
    /// `timeout` passes first.
    @discardableResult
    public func followChanges(id: UUID, after cursor: RunEventCursor = .start, timeout: Duration, every: Duration = .milliseconds(250),
                              onChange: (RunEventCursor, RunChange) async throws -> Void) async throws -> RunEventCursor {
        let deadline = ContinuousClock.now + timeout
        var cursor = cursor
        while true {
            let read = try await runChanges(id: id, after: cursor)
            for (position, change) in read.changes { try await onChange(position, change) }
            cursor = read.cursor
            if read.finished { return cursor }
            guard ContinuousClock.now < deadline else {
                let state = try await runSummary(id: id).state
                throw KajiError(.invalidState, "run \(id) did not finish within \(Int(timeout.components.seconds)) s (state \(state.rawValue))")
            }
            try await Task.sleep(for: every)
        }
    }
}

extension RunChange {
    init(event: AuditEvent, run: RunSummary, steps: [String: RunDocument.Step]) {
        self.init(event: AuditEventDocument(event), run: run, step: event.step.flatMap { steps[$0] })
    }
}
