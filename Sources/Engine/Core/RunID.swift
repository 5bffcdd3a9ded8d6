import Foundation

/// Run ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Time-ordered ids keep the
/// primary key's inserts at its right edge (fewer pages touched, less WAL per run) and let the key itself
/// order runs newest first. The one place that builds them.
public enum RunID {
    /// A new UUIDv7 of `date`'s millisecond (default now).
    public static func make(at date: Date = Date()) -> UUID {
        var random = SystemRandomNumberGenerator()
        var bytes = millisecondPrefix(date)
        for i in 6..<16 { bytes[i] = UInt8.random(in: 0...255, using: &random) }
        bytes[6] = (bytes[6] & 0x0f) | 0x70 // version 7
        bytes[8] = (bytes[8] & 0x3f) | 0x80 // variant 10
        return uuid(bytes)
    }

    /// The smallest id of `date`'s millisecond (all bits after the time zero): every run id made earlier
    /// sorts below it, so "created before T" is a range at the start of the primary key.
    public static func lowerBound(at date: Date) -> UUID {
        uuid(millisecondPrefix(date))
    }

    private static func millisecondPrefix(_ date: Date) -> [UInt8] {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8((millis >> (8 * (5 - UInt64(i)))) & 0xff) }
        return bytes
    }

    private static func uuid(_ b: [UInt8]) -> UUID {
        UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
