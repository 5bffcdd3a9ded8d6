import Foundation

/// A Prometheus rule: a recording rule or an alerting rule.
public enum PrometheusRule: Sendable, Equatable {
    case record(name: String, expr: String, labels: [SLOSpec.Label])
    case alert(name: String, expr: String, labels: [SLOSpec.Label], annotations: [SLOSpec.Label])
}

/// A named group of rules (one `groups:` entry of a Prometheus rule file).
public struct PrometheusRuleGroup: Sendable, Equatable {
    public var name: String
    public var rules: [PrometheusRule]
}

/// Prometheus rules for SLOs, multi-window and multi-burn-rate as the SRE workbook (chapter 5, "Alerting on
/// SLOs") and sloth make them, with sloth's rule and label names so its dashboards work:
///
/// - per SLO, the error ratio over 5m, 30m, 1h, 2h, 6h, 1d and 3d (`slo:sli_error:ratio_rate<window>`),
///   and over the 30-day period as the mean of the 5m ratio (`slo:sli_error:ratio_rate30d`);
/// - metadata: `slo:objective:ratio`, `slo:error_budget:ratio`, `slo:time_period:days`,
///   `slo:current_burn_rate:ratio`, `slo:period_burn_rate:ratio`, `slo:period_error_budget_remaining:ratio`,
///   `sloth_slo_info`;
/// - a page alert when the budget burns 14.4 times too fast over 1h and 5m, or 6 times over 6h and 30m
///   (2% or 5% of the 30-day budget gone), and a ticket alert at 3 times over 1d and 2h, or once over 3d
///   and 6h (10% gone); both named `alerting.name`, told apart by `sloth_severity` (page, ticket).
public enum SLORules {
    /// The windows of the error-ratio recording rules.
    public static let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    /// The SLO period, in days.
    public static let periodDays = 30

    /// One burn-rate condition: the ratio over a long and a short window above `factor` × the budget.
    struct Burn {
        let factor: String
        let long: String
        let short: String
    }

    static let page = [Burn(factor: "14.4", long: "1h", short: "5m"), Burn(factor: "6", long: "6h", short: "30m")]
    static let ticket = [Burn(factor: "3", long: "1d", short: "2h"), Burn(factor: "1", long: "3d", short: "6h")]

    /// The rule groups of every SLO of `specs`: for each, its recordings, its metadata, its alerts.
    public static func groups(_ specs: [SLOSpec]) -> [PrometheusRuleGroup] {
        specs.flatMap { spec in spec.slos.flatMap { groups(spec, $0) } }
    }

    /// `sloth_id`: `SERVICE-SLO`.
    static func id(_ spec: SLOSpec, _ slo: SLOSpec.SLO) -> String { "\(spec.service)-\(slo.name)" }

    static func groups(_ spec: SLOSpec, _ slo: SLOSpec.SLO) -> [PrometheusRuleGroup] {
        let id = id(spec, slo)
        let identity = [SLOSpec.Label("sloth_id", id), SLOSpec.Label("sloth_service", spec.service), SLOSpec.Label("sloth_slo", slo.name)]
        // The SLO's labels over the service's, then sloth's own, sorted by name like sloth's output.
        let common = merge(spec.labels, slo.labels, identity)
        let selector = "{" + identity.map { "\($0.name)=\"\(escape($0.value))\"" }.joined(separator: ", ") + "}"
        let ratio = slo.objective / 100
        let budget = 1 - ratio

        var recordings: [PrometheusRule] = windows.map { window in
            .record(name: "slo:sli_error:ratio_rate\(window)", expr: errorRatio(slo.sli, window: window),
                    labels: merge(common, [SLOSpec.Label("sloth_window", window)]))
        }
        recordings.append(.record(
            name: "slo:sli_error:ratio_rate\(periodDays)d",
            expr: """
                sum_over_time(slo:sli_error:ratio_rate5m\(selector)[\(periodDays)d])
                / ignoring (sloth_window)
                count_over_time(slo:sli_error:ratio_rate5m\(selector)[\(periodDays)d])
                """,
            // The identity labels are already on the series; naming them makes the rule unique in a file with
            // several SLOs (promtool check rules refuses duplicate rules).
            labels: merge(identity, [SLOSpec.Label("sloth_window", "\(periodDays)d")])))

        var info = common + [SLOSpec.Label("sloth_mode", "kaji-slo-rules"), SLOSpec.Label("sloth_objective", "\(slo.objective)"),
                             SLOSpec.Label("sloth_spec", SLOSpec.version), SLOSpec.Label("sloth_version", "kaji")]
        info.sort { $0.name < $1.name }
        let meta: [PrometheusRule] = [
            .record(name: "slo:objective:ratio", expr: "vector(\(ratio))", labels: common),
            .record(name: "slo:error_budget:ratio", expr: "vector(1-\(ratio))", labels: common),
            .record(name: "slo:time_period:days", expr: "vector(\(periodDays))", labels: common),
            .record(name: "slo:current_burn_rate:ratio", expr: """
                slo:sli_error:ratio_rate5m\(selector)
                / on(sloth_id, sloth_slo, sloth_service) group_left
                slo:error_budget:ratio\(selector)
                """, labels: common),
            .record(name: "slo:period_burn_rate:ratio", expr: """
                slo:sli_error:ratio_rate\(periodDays)d\(selector)
                / on(sloth_id, sloth_slo, sloth_service) group_left
                slo:error_budget:ratio\(selector)
                """, labels: common),
            .record(name: "slo:period_error_budget_remaining:ratio", expr: "1 - slo:period_burn_rate:ratio\(selector)", labels: common),
            .record(name: "sloth_slo_info", expr: "vector(1)", labels: info),
        ]

        var alerts: [PrometheusRule] = []
        for (severity, alert, burns) in [("page", slo.alerting.page, page), ("ticket", slo.alerting.ticket, ticket)] where !alert.disable {
            guard let name = slo.alerting.name else { continue }
            let annotations = merge(
                [SLOSpec.Label("summary", "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."),
                 SLOSpec.Label("title", "(\(severity)) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.")],
                slo.alerting.annotations, alert.annotations)
            alerts.append(.alert(name: name, expr: burnExpression(burns, selector: selector, budget: budget),
                                 labels: merge(slo.alerting.labels, alert.labels, [SLOSpec.Label("sloth_severity", severity)]),
                                 annotations: annotations))
        }

        var groups = [
            PrometheusRuleGroup(name: "sloth-slo-sli-recordings-\(id)", rules: recordings),
            PrometheusRuleGroup(name: "sloth-slo-meta-recordings-\(id)", rules: meta),
        ]
        if !alerts.isEmpty { groups.append(PrometheusRuleGroup(name: "sloth-slo-alerts-\(id)", rules: alerts)) }
        return groups
    }

    /// The error ratio over `window`: bad over total events, or the raw ratio.
    static func errorRatio(_ sli: SLOSpec.SLI, window: String) -> String {
        switch sli {
        case .events(let error, let total):
            return "(\(WindowTemplate.fill(error, window: window)))\n/\n(\(WindowTemplate.fill(total, window: window)))"
        case .raw(let ratio):
            return "(\(WindowTemplate.fill(ratio, window: window)))"
        }
    }

    /// Either burn condition: both its windows above `factor` × the budget.
    static func burnExpression(_ burns: [Burn], selector: String, budget: Decimal) -> String {
        burns.map { burn in
            """
            (
                (slo:sli_error:ratio_rate\(burn.short)\(selector) > (\(burn.factor) * \(budget)))
                and ignoring (sloth_window)
                (slo:sli_error:ratio_rate\(burn.long)\(selector) > (\(burn.factor) * \(budget)))
            )
            """
        }.joined(separator: "\nor ignoring (sloth_window)\n")
    }

    /// Label sets merged left to right (a later value wins), sorted by name.
    static func merge(_ sets: [SLOSpec.Label]...) -> [SLOSpec.Label] {
        var values: [String: String] = [:]
        for set in sets { for label in set { values[label.name] = label.value } }
        return values.keys.sorted().map { SLOSpec.Label($0, values[$0] ?? "") }
    }

    /// A PromQL string literal's content: `\` and `"` escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension SLORules {
    /// The rule file for every SLO of `yaml` (sloth's prometheus/v1; several documents allowed). `source`
    /// names the input in errors and in the file's header.
    public static func rulesFile(yaml: String, source: String) throws -> String {
        RulesFile.yaml(groups(try SLOSpec.parse(yaml, source: source)), source: source)
    }

    /// The rule file of Kaji's built-in SLOs (`BuiltinSLOs`).
    public static func builtinRulesFile() throws -> String {
        try rulesFile(yaml: BuiltinSLOs.yaml, source: "Kaji's built-in SLOs (kaji slo spec)")
    }
}
