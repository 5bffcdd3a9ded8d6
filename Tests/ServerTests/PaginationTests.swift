import Engine
import Foundation
import KajiTesting
import Synchronization
import Testing

@Suite("kaji serve: cursor pagination of runs and audit events", .needsDatabase, .timeLimit(.minutes(3)))
struct PaginationTests {
    /// Follows `nextCursor` from `path` (which has a query string) to the last page; returns each page's items.
    func walk(_ fx: ServeFixture, _ path: String, token: String) async throws -> [[[String: Any]]] {
        var pages: [[[String: Any]]] = []
        var cursor: String?
        repeat {
            let escaped = cursor.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? ""
            let reply = try await fx.call(.GET, path + escaped, token: token)
            try #require(reply.status == 200, "\(path): \(reply.status) \(reply.body.prefix(500))")
            pages.append(try #require(reply.object["items"] as? [[String: Any]]))
            cursor = reply.object["nextCursor"] as? String
            try #require(reply.object["nextCursor"] != nil, "nextCursor is always there (null on the last page)")
            try #require(pages.count < 1000, "the walk does not end")
        } while cursor != nil
        return pages
    }

    @Test("walking the pages of runs lists every run once, newest first, while runs are being enqueued")
    func runsUnderInserts() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("reader", .viewer)
            let existing = try await fx.client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: "{}", count: 230), actor: "test")
            let before = Set(existing.map { $0.id.uuidString.lowercased() })
            // Enqueue more, one statement after another, for as long as the walk lasts.
            let stop = Atomic(false)
            let client = fx.client
            let writer = Task {
                var added = 0
                while !stop.load(ordering: .relaxed) {
                    _ = try await client.enqueueBatch(kind: "diag.steps", inputs: ["{}", "{}", "{}"], actor: "test")
                    added += 3
                }
                return added
            }
            let pages = try await walk(fx, "/api/v1/runs?limit=17", token: viewer)
            stop.store(true, ordering: .relaxed)
            let added = try await writer.value
            #expect(added > 0, "runs were enqueued during the walk")
            let ids = pages.flatMap { $0.compactMap { ($0["id"] as? String)?.lowercased() } }
            #expect(Set(ids).count == ids.count, "no run twice")
            #expect(before.isSubset(of: Set(ids)), "every run that existed is listed: \(before.subtracting(ids).count) missing")
            #expect(ids == ids.sorted(by: >), "newest first, by id, across pages")
            #expect(pages.dropLast().allSatisfy { $0.count == 17 }, "full pages until the last")
        }
    }

    @Test("filters hold on every page: state, kind, queue, concurrency key, actor")
    func filters() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("reader", .viewer)
            for i in 0..<12 {
                _ = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", queue: i % 2 == 0 ? "even" : "odd",
                                                               concurrencyKey: i % 3 == 0 ? "cluster:a" : nil, actor: i < 5 ? "token:alice" : "token:bob"))
            }
            let cases: [(String, Int, (([String: Any]) -> Bool))] = [
                ("queue=even", 6, { $0["queue"] as? String == "even" }),
                ("concurrencyKey=cluster:a", 4, { $0["concurrencyKey"] as? String == "cluster:a" }),
                ("actor=token:alice", 5, { $0["actor"] as? String == "token:alice" }),
                ("actor=token:bob&queue=odd", 4, { $0["actor"] as? String == "token:bob" && $0["queue"] as? String == "odd" }),
                ("state=pending&kind=diag.steps", 12, { $0["state"] as? String == "pending" }),
                ("state=succeeded", 0, { _ in false }),
            ]
            for (query, count, holds) in cases {
                let items = try await walk(fx, "/api/v1/runs?limit=2&\(query)", token: viewer).flatMap { $0 }
                #expect(items.count == count, "\(query): \(items.count)")
                #expect(items.allSatisfy(holds), "\(query)")
            }
        }
    }

    @Test("walking the audit trail back in time gives every event once; each page oldest first")
    func audit() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("reader", .viewer)
            _ = try await fx.client.enqueueBatch(kind: "diag.steps", inputs: Array(repeating: "{}", count: 40), actor: "test")
            let total = try await fx.db.scalarInt("SELECT count(*)::int8 FROM audit_events")
            let stop = Atomic(false)
            let client = fx.client
            let writer = Task {
                while !stop.load(ordering: .relaxed) { _ = try await client.enqueue(EnqueueRequest(kind: "diag.steps", actor: "test")) }
            }
            let pages = try await walk(fx, "/api/v1/audit?limit=9&actor=test", token: viewer)
            stop.store(true, ordering: .relaxed)
            try await writer.value
            for page in pages {
                let ids = page.compactMap { $0["id"] as? Int }
                #expect(ids == ids.sorted(), "a page is oldest first")
            }
            let ids = pages.flatMap { $0.compactMap { $0["id"] as? Int } }
            #expect(Set(ids).count == ids.count, "no event twice")
            #expect(ids.count >= total, "every event that existed: \(ids.count) of \(total)")
            #expect(pages.map { $0.first?["id"] as? Int ?? 0 } == pages.map { $0.first?["id"] as? Int ?? 0 }.sorted(by: >), "pages go back in time")
        }
    }

    @Test("a cursor that is not one of the list's is refused, naming cursor")
    func badCursor() async throws {
        try await ServeFixture.with { fx in
            let viewer = try await fx.token("reader", .viewer)
            _ = try await fx.client.enqueueBatch(kind: "diag.steps", inputs: ["{}", "{}", "{}"], actor: "test")
            let runs = try await fx.call(.GET, "/api/v1/runs?limit=1", token: viewer)
            let runCursor = try #require(runs.object["nextCursor"] as? String)
            let audit = try await fx.call(.GET, "/api/v1/audit?limit=1", token: viewer)
            let auditCursor = try #require(audit.object["nextCursor"] as? String)
            for (path, cursor) in [("/api/v1/runs", "garbage!"), ("/api/v1/runs", auditCursor), ("/api/v1/audit", runCursor), ("/api/v1/audit", "")] {
                let reply = try await fx.call(.GET, "\(path)?cursor=\(cursor)", token: viewer)
                #expect(reply.status == 422, "\(path) \(cursor): \(reply.status) \(reply.body)")
                #expect(reply.errorField == "cursor", "\(reply.body)")
            }
        }
    }
}
