import Crypto

/// The tag every create carries, so a lost answer can be resolved by looking the resource up instead of
/// creating it again: `kaji-op=` and the first 24 hex digits of SHA-256 of `<run>/<step>` (32 characters,
/// the API's limit for one tag; 96 bits, so two operations never share it in practice). The full run and
/// step go into the resource's `Description` (``descriptionLine``), where a person can read them.
public struct OperationTag: Sendable, Hashable, CustomStringConvertible {
    public var run: String
    public var step: String

    public init(run: String, step: String) {
        self.run = run
        self.step = step
    }

    /// `kaji-op=<24 hex digits>`, always 32 characters.
    public var tag: String { "kaji-op=" + SakuraTags.digest("\(run)/\(step)", hexDigits: 24) }

    /// `kaji-op <run>/<step>`, the readable form for a `Description`.
    public var descriptionLine: String { "kaji-op \(run)/\(step)" }

    public var description: String { "\(tag) (\(run)/\(step))" }

    /// `tags` plus this tag, without duplicates, keeping the API's limit of 10 (extra tags are dropped
    /// from the end, never this one).
    public func adding(to tags: [String]) -> [String] {
        var result: [String] = []
        for item in tags where item != tag && !item.hasPrefix("kaji-op=") && !result.contains(item) {
            result.append(item)
        }
        result = Array(result.prefix(SakuraTags.maxCount - 1))
        result.append(tag)
        return result
    }

    /// `description` with this operation's readable line appended (on a new line when not empty), kept
    /// within the API's 512 characters.
    public func describing(_ description: String) -> String {
        let text = description.isEmpty ? descriptionLine : description + "\n" + descriptionLine
        return String(text.prefix(SakuraTags.maxDescriptionLength))
    }
}

/// SAKURA Cloud's limits on tags, and the deterministic shortening Kaji applies to fit them.
///
/// At most 10 tags of at most 32 characters each (usacloud `pkg/vdef/validators.go`:
/// `"tags": "unique,max=10,dive,max=32"`; iaas-api-go `helper/plans/change_plan.go`: `maxTags = 10`).
/// A description takes at most 512 characters (same usacloud file).
public enum SakuraTags {
    public static let maxCount = 10
    public static let maxLength = 32
    public static let maxDescriptionLength = 512

    /// `prefix` + `value` when that fits in 32 characters; otherwise `prefix`, the start of `value`, `~`
    /// and 8 hex digits of SHA-256 of the whole `value`, exactly 32 characters. Deterministic, and never
    /// equal to the short form of another value when values never contain `~` (cluster and node names are
    /// DNS labels).
    public static func fitting(_ prefix: String, _ value: String) -> String {
        let whole = prefix + value
        if whole.count <= maxLength { return whole }
        let hash = digest(value, hexDigits: 8)
        let room = max(maxLength - prefix.count - 1 - hash.count, 0)
        return prefix + String(value.prefix(room)) + "~" + hash
    }

    /// The first `hexDigits` lowercase hex digits of SHA-256 of `text`.
    public static func digest(_ text: String, hexDigits: Int) -> String {
        let hex = SHA256.hash(data: Array(text.utf8)).map { byte -> String in
            let digits = Array("0123456789abcdef")
            return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0f)])
        }.joined()
        return String(hex.prefix(hexDigits))
    }

    /// The first problem of `tags` against the API's limits, or nil.
    public static func problem(_ tags: [String]) -> String? {
        if tags.count > maxCount { return "\(tags.count) tags, at most \(maxCount) allowed" }
        if let long = tags.first(where: { $0.count > maxLength }) {
            return "tag `\(long)` has \(long.count) characters, at most \(maxLength) allowed"
        }
        return nil
    }
}
