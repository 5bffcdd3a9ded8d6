/// One injected failure of the simulated API.
///
/// Text form (the `--faults` flag takes several, separated by `;`):
///
///     METHOD PATH=KIND[,OPTION...]
///
/// - `METHOD`: `GET`, `POST`, `PUT`, `DELETE` or `*`.
/// - `PATH`: a path below the zone root such as `/server`, `/server/*/power` (`*` matches one segment),
///   `/disk/**` (`**` matches the rest), or `*` for every path.
/// - `KIND`: `busy` (503 `busy`), `too_many_request` (503), `429` (429 with `Retry-After`), `locked` (423),
///   `500`, `timeout` (504 `apiproxy_timeout_non_get`), `reset` (the connection is closed without an answer),
///   `hang` (no answer for 10 minutes), `copyfail` (a disk copy that ends `failed`; `POST /disk` only),
///   `still_creating` (409 `still_creating`, as a boot answers while the server is being created),
///   `dropped` (answers success but carries nothing out: a boot the API accepted and never ran).
/// - `OPTION`: `before` (default: nothing is committed) or `after` (the request is carried out, then the
///   failure is answered instead of the result); `times=N` (the next N matching calls; the default is 1
///   unless `p` is given); `p=0.25` (each matching call fails with this probability, for ever, rolled with the
///   seeded generator); `retry-after=S` (a `Retry-After` header; 429 defaults to 1); `zone=is1a`.
///
/// Example: `POST /server=timeout,after;GET *=busy,p=0.1`.
public struct FaultRule: Sendable, Equatable, CustomStringConvertible {
    /// What the simulator answers when the rule fires.
    public enum Kind: String, Sendable, CaseIterable {
        case busy, tooManyRequest = "too_many_request", status429 = "429", locked, status500 = "500"
        case timeout, reset, hang, copyfail
        case stillCreating = "still_creating", dropped
    }

    /// When the failure happens relative to committing the request's state change.
    public enum Phase: String, Sendable {
        case before, after
    }

    public var method: String
    public var pathPattern: String
    public var kind: Kind
    /// Default `.before`.
    public var phase: Phase
    /// Remaining number of firings; nil = unlimited (used with `probability`).
    public var remaining: Int?
    /// Chance of firing per matching call; nil = always (while `remaining` lasts).
    public var probability: Double?
    /// Value of the `Retry-After` header, in seconds; nil = none (429 uses 1).
    public var retryAfterSeconds: Int?
    /// Zone the rule is limited to; nil = every zone.
    public var zone: String?

    public init(
        method: String, pathPattern: String, kind: Kind, phase: Phase = .before, remaining: Int? = 1,
        probability: Double? = nil, retryAfterSeconds: Int? = nil, zone: String? = nil
    ) {
        self.method = method.uppercased()
        self.pathPattern = pathPattern
        self.kind = kind
        self.phase = phase
        self.remaining = remaining
        self.probability = probability
        self.retryAfterSeconds = retryAfterSeconds
        self.zone = zone
    }

    public var description: String {
        var text = "\(method) \(pathPattern)=\(kind.rawValue),\(phase.rawValue)"
        if let remaining { text += ",times=\(remaining)" }
        if let probability { text += ",p=\(probability)" }
        if let retryAfterSeconds { text += ",retry-after=\(retryAfterSeconds)" }
        if let zone { text += ",zone=\(zone)" }
        return text
    }

    /// Whether the rule applies to a request (ignores `remaining` and `probability`).
    func matches(method: String, zone: String, path: [String]) -> Bool {
        if self.method != "*" && self.method != method { return false }
        if let ruleZone = self.zone, ruleZone != zone { return false }
        if pathPattern == "*" || pathPattern == "/**" { return true }
        let pattern = pathPattern.split(separator: "/").map(String.init)
        var index = 0
        for part in pattern {
            if part == "**" { return true }
            guard index < path.count else { return false }
            if part != "*" && part != path[index] { return false }
            index += 1
        }
        return index == path.count
    }

    /// Parses a `;`-separated list of rules in the text form above.
    public static func parseList(_ spec: String) throws(FaultSpecError) -> [FaultRule] {
        try spec.split(separator: ";").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { rule throws(FaultSpecError) in try parse(rule) }
    }

    /// Parses one rule in the text form above.
    public static func parse(_ text: String) throws(FaultSpecError) -> FaultRule {
        guard let equals = text.firstIndex(of: "=") else {
            throw FaultSpecError(rule: text, problem: "expected METHOD PATH=KIND, e.g. `POST /server=busy`")
        }
        let target = text[..<equals].split(separator: " ", omittingEmptySubsequences: true)
        guard target.count == 2 else {
            throw FaultSpecError(rule: text, problem: "expected a method and a path before `=`, e.g. `POST /server`")
        }
        let method = target[0].uppercased()
        guard ["GET", "POST", "PUT", "DELETE", "*"].contains(method) else {
            throw FaultSpecError(rule: text, problem: "unknown method `\(target[0])`; use GET, POST, PUT, DELETE or *")
        }
        let parts = text[text.index(after: equals)...].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let kindText = parts.first, let kind = Kind(rawValue: kindText) else {
            let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw FaultSpecError(rule: text, problem: "unknown fault kind; use one of \(known)")
        }
        var rule = FaultRule(method: method, pathPattern: String(target[1]), kind: kind)
        var timesGiven = false
        for option in parts.dropFirst() {
            let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
            switch (pair[0], pair.count == 2 ? pair[1] : nil) {
            case ("before", nil): rule.phase = .before
            case ("after", nil): rule.phase = .after
            case ("times", let value?):
                guard let count = Int(value), count > 0 else {
                    throw FaultSpecError(rule: text, problem: "times must be a positive integer, got `\(value)`")
                }
                rule.remaining = count
                timesGiven = true
            case ("p", let value?):
                guard let chance = Double(value), chance > 0, chance <= 1 else {
                    throw FaultSpecError(rule: text, problem: "p must be a probability in (0, 1], got `\(value)`")
                }
                rule.probability = chance
            case ("retry-after", let value?):
                guard let seconds = Int(value), seconds >= 0 else {
                    throw FaultSpecError(rule: text, problem: "retry-after must be whole seconds, got `\(value)`")
                }
                rule.retryAfterSeconds = seconds
            case ("zone", let value?): rule.zone = value
            default:
                throw FaultSpecError(
                    rule: text, problem: "unknown option `\(option)`; use before, after, times=N, p=X, retry-after=S, zone=Z")
            }
        }
        if rule.probability != nil && !timesGiven { rule.remaining = nil }
        return rule
    }
}

/// A `--faults` rule that could not be read; names the rule and what is wrong with it.
public struct FaultSpecError: Error, Sendable, CustomStringConvertible {
    public var rule: String
    public var problem: String
    public var description: String { "invalid fault rule `\(rule)`: \(problem)" }
}
