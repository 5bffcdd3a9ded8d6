import Foundation

/// One thing wrong with a manifest: the field's path (`masters.replicas`, `owners.sshKeys[1]`, `manifest` for
/// the document as a whole), what is wrong and what would be right, and the YAML line when it is known.
/// Reasons never contain key material beyond a public key's type.
public struct ManifestProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The field path, e.g. `network.controlPlaneVIP`; `manifest` for the whole document.
    public var field: String
    /// What is wrong and what would be right, e.g. `must be odd (1, 3, 5 or 7), got 2`.
    public var reason: String
    /// The 1-based line in the YAML text, when the problem comes from a YAML document (default nil).
    public var line: Int?

    public init(field: String, reason: String, line: Int? = nil) {
        self.field = field
        self.reason = reason
        self.line = line
    }

    /// `field.path: reason`, the form `kaji validate` prints one per line.
    public var description: String { "\(field): \(reason)" }
}

/// A manifest that cannot be applied, with every problem found (never only the first).
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    public var problems: [ManifestProblem]

    public init(problems: [ManifestProblem]) {
        self.problems = problems
    }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
