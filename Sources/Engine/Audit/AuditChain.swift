import Crypto
import Foundation

/// An audit event exactly as it is hashed: every column, with the time in whole microseconds.
struct AuditRecord: Sendable, Equatable {
    var id: Int64
    var atMicros: Int64
    var runID: UUID?
    var type: String
    var actor: String
    var step: String?
    var attempt: Int?
    var epoch: Int64?
    var worker: String?
    /// `detail::text` (PostgreSQL's normalised jsonb text, stable across reads).
    var detail: String?

    /// Column names in hashing order (used to say which column of an altered event differs).
    static let fieldNames = ["id", "at", "run_id", "type", "actor", "step", "attempt", "epoch", "worker", "detail"]

    /// Each column's canonical text, nil for NULL.
    var fields: [String?] {
        [String(id), String(atMicros), runID.map { $0.uuidString.lowercased() }, type, actor, step, attempt.map(String.init),
         epoch.map(String.init), worker, detail]
    }
}

/// The hash chain over audit events: `hash(n) = SHA-256("kaji-audit-v1" || seq || hash(n-1) || event)`,
/// where the event is serialised column by column without ambiguity (a NULL marker, or a 4-byte length
/// and the UTF-8 text). The first entry links to 32 zero bytes.
enum AuditChain {
    static let genesis = Data(repeating: 0, count: 32)
    static let digestWidth = 4

    static func encode(_ field: String?, into data: inout Data) {
        guard let field else {
            data.append(0)
            return
        }
        let bytes = Array(field.utf8)
        data.append(1)
        withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: bytes)
    }

    /// The canonical bytes of an event.
    static func canonical(_ record: AuditRecord) -> Data {
        var data = Data()
        for field in record.fields { encode(field, into: &data) }
        return data
    }

    /// The chain hash of an entry.
    static func hash(seq: Int64, previous: Data, record: AuditRecord) -> Data {
        var hasher = SHA256()
        hasher.update(data: Array("kaji-audit-v1".utf8))
        withUnsafeBytes(of: seq.bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: previous)
        hasher.update(data: canonical(record))
        return Data(hasher.finalize())
    }

    /// A 4-byte digest per column (FNV-1a over the column's canonical encoding), concatenated: only a
    /// diagnostic that lets verification name the columns that changed; tampering itself is caught by the
    /// SHA-256 chain hash.
    static func fieldDigests(_ record: AuditRecord) -> Data {
        var out = Data()
        out.reserveCapacity(AuditRecord.fieldNames.count * digestWidth)
        for field in record.fields {
            var hash: UInt32 = 2_166_136_261
            func mix(_ byte: UInt8) {
                hash ^= UInt32(byte)
                hash = hash &* 16_777_619
            }
            if let field {
                mix(1)
                for byte in field.utf8 { mix(byte) }
            } else {
                mix(0)
            }
            withUnsafeBytes(of: hash.bigEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The names of the columns whose digests differ from the stored ones.
    static func changedFields(stored: Data, record: AuditRecord) -> [String] {
        let now = fieldDigests(record)
        guard stored.count == now.count else { return AuditRecord.fieldNames }
        var changed: [String] = []
        for (index, name) in AuditRecord.fieldNames.enumerated() {
            let range = (index * digestWidth)..<((index + 1) * digestWidth)
            let a = stored.subdata(in: (stored.startIndex + range.lowerBound)..<(stored.startIndex + range.upperBound))
            let b = now.subdata(in: range)
            if a != b { changed.append(name) }
        }
        return changed
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of the bytes.
    static func hex(_ data: Data) -> String {
        var out = [UInt8]()
        out.reserveCapacity(data.count * 2)
        for byte in data {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
