import Engine
import Foundation
import KajiTesting
import Testing

/// Run ids (UUIDv7), made in one place: `RunID`.
@Suite("Run ids", .timeLimit(.minutes(2)))
struct RunIDTests {
    /// The 16 bytes as lowercase hex: PostgreSQL orders uuids bytewise, as this string sorts.
    static func hex(_ id: UUID) -> String { id.uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    @Test("version 7 and variant 10; the millisecond leads; lowerBound sorts below every id of its millisecond and above earlier ones")
    func layout() throws {
        let at = try #require(KajiJSON.parseDate("2026-11-26T20:00:00.125Z"))
        let id = RunID.make(at: at)
        let text = Self.hex(id)
        #expect(text.prefix(12) == String(format: "%012llx", UInt64(at.timeIntervalSince1970 * 1000)))
        #expect(Array(text)[12] == "7")
        #expect(["8", "9", "a", "b"].contains(Array(text)[16]))
        let bound = RunID.lowerBound(at: at)
        #expect(Self.hex(bound) == String(text.prefix(12)) + String(repeating: "0", count: 20))
        for _ in 0..<100 {
            #expect(Self.hex(RunID.make(at: at)) >= Self.hex(bound))
            #expect(Self.hex(RunID.make(at: at.addingTimeInterval(-0.001))) < Self.hex(bound))
        }
    }

    @Test("the bench's finished history has distinct UUIDv7 ids from a day ago", .needsDatabase)
    func benchHistory() async throws {
        try await TestDatabase.with { db in
            try await db.store.insertFinishedHistory(count: 300, kind: "diag.steps")
            #expect(try await db.scalarInt("SELECT count(DISTINCT id)::int8 FROM runs") == 300)
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE substr(id::text, 15, 1) = '7' AND substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')") == 300)
            // The id's time is about a day ago.
            #expect(try await db.scalarInt("""
                SELECT count(*)::int8 FROM runs
                WHERE abs(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::int8 / 1000.0 - extract(epoch FROM now() - interval '1 day')) < 600
                """) == 300)
        }
    }
}
