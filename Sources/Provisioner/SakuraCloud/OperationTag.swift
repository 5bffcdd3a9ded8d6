/// The tag `kaji-op=<run>/<step>` every create carries, so a lost answer can be resolved by looking the
/// resource up instead of creating it again.
public struct OperationTag: Sendable, Hashable, CustomStringConvertible {
    public var run: String
    public var step: String

    public init(run: String, step: String) {
        self.run = run
        self.step = step
    }

    /// `kaji-op=<run>/<step>`.
    public var tag: String { "kaji-op=\(run)/\(step)" }

    public var description: String { tag }

    /// `tags` plus this tag, without duplicates, keeping the API's limit of 10 (extra tags are dropped
    /// from the end, never this one).
    public func adding(to tags: [String]) -> [String] {
        var result = tags.filter { $0 != tag && !$0.hasPrefix("kaji-op=") }
        result = Array(result.prefix(9))
        result.append(tag)
        return result
    }
}
