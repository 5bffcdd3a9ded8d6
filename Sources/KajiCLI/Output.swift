import Engine
import Foundation

/// Printing for humans and for machines.
enum Output {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    static func info(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    static func json<T: Encodable>(_ value: T) throws {
        print(try KajiJSON.string(value, pretty: true))
    }

    /// A fixed-width table.
    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    static func time(_ date: Date?) -> String { date.map(KajiJSON.format) ?? "-" }

    static func duration(ms: Double?) -> String {
        guard let ms else { return "-" }
        if ms < 1000 { return String(format: "%.0fms", ms) }
        if ms < 60_000 { return String(format: "%.1fs", ms / 1000) }
        return String(format: "%dm%02ds", Int(ms / 60_000), Int(ms / 1000) % 60)
    }
}
