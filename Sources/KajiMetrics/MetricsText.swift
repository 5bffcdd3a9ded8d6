import Foundation
import Engine

/// Writes metric families in the Prometheus text format (version 0.0.4) by hand: for values computed at
/// scrape time (database gauges), whose series come and go with the data and so do not belong in a
/// registry that would keep the last value of a series that is gone.
public struct MetricsText: Sendable {
    public private(set) var text = ""

    public init() {}

    /// Starts a family: its HELP and TYPE lines. Write its samples next.
    public mutating func family(_ description: MetricDescription) {
        text += "# HELP \(description.name) \(Self.escapeHelp(description.help))\n"
        text += "# TYPE \(description.name) \(description.kind.rawValue)\n"
    }

    /// One sample of the family started last.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    /// A whole family with its samples.
    public mutating func gauge(_ description: MetricDescription, _ samples: [([(String, String)], Double)]) {
        family(description)
        for (labels, value) in samples { sample(description.name, labels, value) }
    }

    /// A value as the text format writes it: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value with `\`, `"` and newlines escaped.
    public static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A HELP text with `\` and newlines escaped.
    public static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
