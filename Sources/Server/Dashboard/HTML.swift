import Foundation

/// HTML text for the dashboard's pages. Escaping is the default: a `String` interpolated into an `HTML`
/// literal is escaped (`& < > " '`), so it is safe as element text and inside a double-quoted attribute;
/// only `HTML` values (markup built the same way) are inserted as they are. Nothing user-controlled goes
/// into a script or a style.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }

    init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    /// Markup made by this module (e.g. joined fragments); never a value from a request or the database.
    private init(markup: String) { text = markup }

    var description: String { text }

    static let empty = HTML(markup: "")

    /// The fragments one after another.
    static func join(_ parts: [HTML], separator: HTML = .empty) -> HTML {
        HTML(markup: parts.map(\.text).joined(separator: separator.text))
    }

    /// `text` with `& < > " '` replaced by entities.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{0}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + interpolationCount * 16) }

        mutating func appendLiteral(_ literal: String) { text += literal }

        /// Escaped.
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }

        /// Escaped; nothing for nil.
        mutating func appendInterpolation(_ value: String?) { if let value { text += HTML.escape(value) } }

        mutating func appendInterpolation(_ value: Int) { text += String(value) }

        mutating func appendInterpolation(_ value: Int64) { text += String(value) }

        /// A number for an SVG coordinate: at most two decimals.
        mutating func appendInterpolation(_ value: Double) { text += HTML.number(value) }

        /// As it is.
        mutating func appendInterpolation(_ value: HTML) { text += value.text }

        /// One after another, as they are.
        mutating func appendInterpolation(_ values: [HTML]) { for value in values { text += value.text } }
    }

    /// `value` with at most two decimals, no trailing zeros (`12`, `3.5`).
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
