import Engine
import Foundation
import Provisioner

/// How a worker checks the API of the clusters it can reach.
public struct ClusterHealthSettings: Sendable {
    /// Who checks: `worker:ID` (stored with every result).
    public var checker: String
    /// Only clusters of this zone are checked (a worker reaches only its zone's private networks); nil: every
    /// zone. Default nil.
    public var zone: String?
    /// One check's bound: connecting, the TLS handshake and the answer (default 10 s).
    public var timeout: Duration
    /// How long each cluster's results are kept (default 24 h).
    public var retention: Duration
    /// Where to dial instead of `VIP:6443` (default none: production dials the VIP).
    public var overrides: APIEndpointOverrides
    /// The longest pause between two looks for due checks (default 5 s); shorter when a cluster's interval is
    /// short (a quarter of the shortest interval, at least 100 ms).
    public var maxPause: Duration

    public init(checker: String, zone: String? = nil, timeout: Duration = .seconds(10), retention: Duration = .seconds(86_400),
                overrides: APIEndpointOverrides = .none, maxPause: Duration = .seconds(5)) {
        self.checker = checker
        self.zone = zone
        self.timeout = timeout
        self.retention = retention
        self.overrides = overrides
        self.maxPause = maxPause
    }

    /// A claim is held for the timeout and this much more, so that a check that takes its whole timeout
    /// still records its result; a checker that dies frees its clusters after it.
    var lease: Duration { timeout + .seconds(5) }

    /// The settings of a `kaji worker` from its environment; nil when the worker is not to check (the cluster
    /// workflows are not configured: no `SAKURACLOUD_ACCESS_TOKEN`; or `KAJI_HEALTH_CHECKS=off`).
    ///
    /// - `SAKURACLOUD_ZONE` (default `is1a`): the zone whose clusters it checks.
    /// - `KAJI_HEALTH_CHECKS`: `off` disables the checker (default on).
    /// - `KAJI_HEALTH_TIMEOUT_MS`: one check's bound, 100-120000 (default 10000).
    /// - `KAJI_HEALTH_RETENTION_HOURS`: history kept, 1-8760 (default 24).
    /// - `KAJI_API_ENDPOINT_OVERRIDES`: a JSON file mapping `VIP:6443` to the `HOST:PORT` to dial instead (the
    ///   simulator's `apiservers.json`); unset in production.
    /// - Throws: `WorkflowError` naming the variable that is wrong.
    public static func fromEnvironment(_ environment: [String: String], checker: String) throws -> ClusterHealthSettings? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard value("SAKURACLOUD_ACCESS_TOKEN") != nil else { return nil }
        if let switchText = value("KAJI_HEALTH_CHECKS") {
            switch switchText.lowercased() {
            case "off", "false", "0", "no": return nil
            case "on", "true", "1", "yes": break
            default: throw WorkflowError("KAJI_HEALTH_CHECKS must be on or off, got \(switchText.prefix(20))", nonRetryable: true)
            }
        }
        var settings = ClusterHealthSettings(checker: checker, zone: value("SAKURACLOUD_ZONE") ?? "is1a",
                                             overrides: APIEndpointOverrides.fromEnvironment(environment))
        if let text = value("KAJI_HEALTH_TIMEOUT_MS") {
            guard let millis = Int(text), (100...120_000).contains(millis) else {
                throw WorkflowError("KAJI_HEALTH_TIMEOUT_MS must be milliseconds from 100 to 120000", nonRetryable: true)
            }
            settings.timeout = .milliseconds(millis)
        }
        if let text = value("KAJI_HEALTH_RETENTION_HOURS") {
            guard let hours = Int(text), (1...8760).contains(hours) else {
                throw WorkflowError("KAJI_HEALTH_RETENTION_HOURS must be hours from 1 to 8760", nonRetryable: true)
            }
            settings.retention = .seconds(hours * 3600)
        }
        return settings
    }
}
