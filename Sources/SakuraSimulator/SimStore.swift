import Synchronization

/// What the HTTP layer must do with a call: answer, drop the connection, or never answer.
enum SimOutcome: Sendable {
    case reply(status: Int, body: JSONValue, retryAfter: Int?)
    case reset
    case hang
}

/// The simulator's state behind one lock, plus its clock.
final class SimStore: Sendable {
    let clock: SimClock
    private let state: Mutex<SimState>
    private let rawQueries = Mutex<[String]>([])

    func recordQuery(_ line: String) {
        rawQueries.withLock { queries in
            queries.append(line)
            if queries.count > 100 { queries.removeFirst(queries.count - 100) }
        }
    }

    func queries() -> [String] {
        rawQueries.withLock { $0 }
    }

    init(configuration: SakuraSimulatorConfiguration) {
        clock = SimClock(followsWallClock: configuration.clock == .wallClock)
        var initial = SimState(
            profile: configuration.profile, quotas: configuration.quotas, nodes: configuration.nodes,
            seed: configuration.seed)
        initial.faults = configuration.faults
        state = Mutex(initial)
    }

    /// Runs one API call through fault injection and the state machine.
    func process(method: String, zone: String, path: [String], query: JSONValue?, body: JSONValue?) -> SimOutcome {
        let request = SimRequest(method: method, zone: zone, path: path, query: query, body: body, now: clock.now)
        let (outcome, keys, file) = state.withLock { state in
            let outcome = Self.run(request, state: &state)
            defer { state.newSSHKeys = [] }
            return (outcome, state.newSSHKeys, state.nodes?.authorizedKeysFile)
        }
        if let file, !keys.isEmpty {
            AuthorizedKeys.add(keys, to: file)
        }
        return outcome
    }

    private static func run(_ request: SimRequest, state: inout SimState) -> SimOutcome {
        let method = request.method
        let fault = state.takeFault(method: method, zone: request.zone, path: request.path)
        if let fault, fault.kind == .copyfail {
            state.failNextCopy = true
        }
        let failure = fault.flatMap { $0.kind == .copyfail ? nil : $0 }
        if let failure, failure.kind == .dropped {
            // Accepted, never carried out.
            state.settle(now: request.now)
            let reply = SimReply.ok()
            return .reply(status: reply.status, body: reply.body, retryAfter: nil)
        }
        if let failure, failure.phase == .before {
            return Self.outcome(of: failure, method: method, state: &state)
        }
        let outcome: SimOutcome
        do throws(SimAPIError) {
            let reply = try state.handle(request)
            outcome = .reply(status: reply.status, body: reply.body, retryAfter: nil)
        } catch {
            outcome = .reply(status: error.status, body: error.body(serial: state.newSerial()), retryAfter: nil)
        }
        if let failure {
            return Self.outcome(of: failure, method: method, state: &state)
        }
        return outcome
    }

    private static func outcome(of fault: FaultRule, method: String, state: inout SimState) -> SimOutcome {
        switch fault.kind {
        case .reset: return .reset
        case .hang: return .hang
        default:
            guard let (error, retryAfter) = fault.errorReply(method: method) else { return .reset }
            return .reply(status: error.status, body: error.body(serial: state.newSerial()), retryAfter: retryAfter)
        }
    }

    /// A random delay from the profile's latency range, in seconds.
    func latency() -> Double {
        state.withLock { state in state.duration(state.profile.latencySeconds) }
    }

    func dump() -> JSONValue {
        let now = clock.now
        return state.withLock { state in
            state.settle(now: now)
            guard var members = state.dump(now: now).objectValue else { return .null }
            members["FaultsFired"] = .array(state.firedFaults.map { .string($0) })
            members["FaultsPending"] = .array(state.faults.map { .string($0.description) })
            return .object(members)
        }
    }

    func reset() {
        state.withLock { $0.reset() }
    }

    func addFaults(_ rules: [FaultRule]) {
        state.withLock { $0.faults.append(contentsOf: rules) }
    }

    func clearFaults() {
        state.withLock { $0.faults = [] }
    }
}

extension SimState {
    /// Finds the first rule matching the call, rolls its probability and uses up one of its firings.
    mutating func takeFault(method: String, zone: String, path: [String]) -> FaultRule? {
        for index in faults.indices {
            let rule = faults[index]
            guard rule.matches(method: method, zone: zone, path: path) else { continue }
            if let remaining = rule.remaining, remaining <= 0 { continue }
            if let chance = rule.probability, random.uniform(0...1) >= chance { continue }
            if let remaining = rule.remaining {
                faults[index].remaining = remaining - 1
            }
            firedFaults.append("\(method) /\(path.joined(separator: "/")) \(rule.kind.rawValue) \(rule.phase.rawValue)")
            faults.removeAll { $0.remaining == 0 }
            return rule
        }
        return nil
    }
}
