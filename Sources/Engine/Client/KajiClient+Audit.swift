import Foundation

/// A chain head printed by `kaji audit verify`, `SEQ:HASH`: kept elsewhere, it detects a rewritten chain.
public struct AuditHead: Sendable, Equatable {
    public var seq: Int64
    /// 64 lowercase hex digits.
    public var hash: String

    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }

    /// Parses `SEQ:HASH`; the error (`invalidArgument`) names `field` (default `expectHead`).
    public static func parse(_ text: String, field: String = "expectHead") throws -> AuditHead {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let seq = Int64(parts[0]), seq >= 1, parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit) else {
            throw KajiError(.invalidArgument, "\(field) '\(text)' must be SEQ:HASH as printed by kaji audit verify (HASH: 64 hex digits)", field: field)
        }
        return AuditHead(seq: seq, hash: parts[1].lowercased())
    }
}

/// One page of audit events: the `GET /api/v1/audit` document. The page holds the newest events that
/// match (older than the cursor's), oldest first as `kaji audit` prints them; `nextCursor` (nil when none
/// are left) asks for the page of events before them: a walk goes back in time.
public struct AuditPage: Sendable, Codable {
    public var items: [AuditEventDocument]
    public var nextCursor: String?

    public init(items: [AuditEventDocument], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    private enum CodingKeys: String, CodingKey { case items, nextCursor }

    /// `nextCursor` is always there: null on the last page.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

extension KajiClient {
    /// Audit events, oldest first (the newest `filter.limit` of those matching; 1...100000, field `limit`).
    public func auditEvents(_ filter: AuditFilter) async throws -> [AuditEvent] {
        try Self.validate(filter.limit, in: 1...100_000, field: "limit")
        return try await store.auditEvents(filter)
    }

    /// One page of audit events (see `AuditPage`): those matching `filter` before `cursor` (a `nextCursor`;
    /// default nil: the newest). Errors name `limit` or `cursor`.
    public func auditPage(_ filter: AuditFilter, cursor: String? = nil) async throws -> AuditPage {
        try Self.validate(filter.limit, in: 1...100_000, field: "limit")
        var filter = filter
        if let cursor { filter.before = try PageCursor.auditEventID(cursor) }
        let limit = filter.limit
        filter.limit = limit + 1
        // Oldest first: the extra (oldest) event, if any, comes first.
        var events = try await store.auditEvents(filter)
        var next: String?
        if events.count > limit {
            events.removeFirst(events.count - limit)
            next = events.first.map { PageCursor.before(auditEvent: $0.id) }
        }
        return AuditPage(items: events.map(AuditEventDocument.init), nextCursor: next)
    }

    /// Seals pending events into the hash chain, then checks every event against it; with `expectHead`,
    /// also that chain entry `seq` still has that hash. A problem is reported in the result (`ok` false,
    /// `problem` set), not thrown.
    public func verifyAudit(expectHead: AuditHead? = nil) async throws -> AuditVerification {
        var result = try await store.verifyAudit()
        if result.ok, let head = expectHead, let problem = try await store.checkAuditAnchor(seq: head.seq, hash: head.hash) {
            result.ok = false
            result.problem = problem
        }
        if result.problem == nil { result.ok = true }
        return result
    }
}
