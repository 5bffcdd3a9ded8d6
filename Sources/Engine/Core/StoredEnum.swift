import Foundation

/// A closed set of values stored as text (a run's state, an audit event's type, …): a Swift enum whose raw
/// values are exactly the strings in the database, which a CHECK constraint of the schema limits to them.
/// A value this build does not know is an error when it is read, never a silent default.
public protocol StoredEnum: RawRepresentable, CaseIterable, Sendable where RawValue == String {}

extension StoredEnum {
    /// The case stored as `raw` in `column` (`table.column`, named in the error); throws
    /// `KajiError(.unknownStoredValue, …)` for a value this build does not know (written by a newer Kaji, or
    /// by hand).
    public static func stored(_ raw: String, column: String) throws -> Self {
        guard let value = Self(rawValue: raw) else {
            let known = allCases.map(\.rawValue).joined(separator: ", ")
            throw KajiError(.unknownStoredValue,
                            "\(column) holds '\(raw)', which this build of Kaji does not know (known: \(known)): the row was written by a newer Kaji or by hand")
        }
        return value
    }

    /// The value as a SQL string literal (quotes doubled), for statement text.
    var sqlLiteral: String { "'" + rawValue.replacingOccurrences(of: "'", with: "''") + "'" }
}
