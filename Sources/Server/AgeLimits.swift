import Engine
import Foundation

/// Ages and lifetimes as the faces take them (`30d`, `12h`): the engine's grammar, within bounds that keep
/// the times they make inside what PostgreSQL and ISO 8601 (four-digit years) can hold.
public enum AgeLimits {
    /// At most this many days back for `prune --older-than` (a cutoff far enough back is out of
    /// PostgreSQL's range of times).
    public static let maxAgeDays: Int64 = 1_000_000
    /// At most this many days for a token's lifetime (`--expires`): 100 years.
    public static let maxLifetimeDays: Int64 = 36_500

    /// `KajiClient.age`, refusing more than `maxAgeDays` (field `olderThan`).
    public static func olderThan(_ text: String) throws -> Duration {
        let age = try KajiClient.age(text)
        guard age <= .seconds(maxAgeDays * 86_400) else {
            throw KajiError(.invalidArgument, "olderThan '\(text)' is more than \(maxAgeDays)d: give an age such as 30d, 12h or 30m", field: "olderThan")
        }
        return age
    }

    /// `KajiClient.lifetime`, refusing more than `maxLifetimeDays` (field `expires`).
    public static func lifetime(_ text: String) throws -> TimeInterval {
        let seconds = try KajiClient.lifetime(text)
        guard seconds <= TimeInterval(maxLifetimeDays * 86_400) else {
            throw KajiError(.invalidArgument, "expires '\(text)' is more than \(maxLifetimeDays)d (100 years): give a lifetime such as 90d or 12h", field: "expires")
        }
        return seconds
    }
}
