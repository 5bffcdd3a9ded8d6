import Engine
import Foundation
import KajiTesting
import Testing
@testable import Workflows

/// The dashboard of `kaji serve` over real HTTP: login and sessions, CSRF, the buttons each role gets, and
/// the buttons doing what they say through the engine's rules.
@Suite("kaji serve: the dashboard's sessions, forms and buttons", .needsDatabase, .timeLimit(.minutes(3)))
struct DashboardTests {
    /// A catalog and a pool that know `test.approval` (waits for an approver other than the requester).
    static let registry: WorkflowRegistry = {
        var registry = WorkflowRegistry()
        registry.register(ApprovalWorkflow())
        registry.register(DiagWorkflow())
        return registry
    }()

    @Test("pages without a session redirect to the login; a wrong or revoked token is refused; a login sets an HttpOnly, SameSite=Strict, Path=/ cookie that is not the token; logout ends the session")
    func loginAndSessions() async throws {
        try await ServeFixture.with { fx in
            let token = try await fx.token("vera", .viewer)
            let anonymous = DashboardVisitor(baseURL: fx.baseURL)
            for path in ["/runs", "/runs/\(UUID().uuidString.lowercased())", "/clusters", "/clusters/prod-a", "/audit", "/runs?state=failed"] {
                let reply = try await anonymous.get(path)
                #expect(reply.status == 303, "\(path): \(reply.status)")
                #expect(reply.location == "/login?" + DashboardVisitor.encode(["next": path]), "\(path): \(reply.location ?? "-")")
            }
            #expect(try await anonymous.get("/").location == "/runs")
            #expect(try await anonymous.get("/runs/\(UUID())/events").status == 401, "the event stream answers 401, not a redirect")

            let form = try await anonymous.get("/login?next=%2Faudit")
            #expect(form.status == 200)
            #expect(form.contentType == "text/html; charset=utf-8")
            #expect(form.body.contains(#"<input type="password" name="token""#))
            #expect(form.body.contains(#"name="next" value="/audit""#))
            let csp = form.headers.first(name: "Content-Security-Policy") ?? ""
            #expect(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "\(csp)")
            #expect(form.headers.first(name: "X-Content-Type-Options") == "nosniff")

            // A wrong token: refused, no cookie, and what was pasted is not echoed.
            let wrong = "kaji_" + String(repeating: "Zx9", count: 14)
            let refused = try await anonymous.post("/login", ["token": wrong, "next": "/runs"])
            #expect(refused.status == 401)
            #expect(refused.sessionCookieHeader == nil)
            #expect(!refused.body.contains(wrong) && refused.body.contains("not known"))
            #expect(try await anonymous.post("/login", ["token": ""]).status == 422)
            let revokedToken = try await fx.token("gone", .admin)
            try await fx.client.revokeToken(name: "gone", actor: "test")
            let revoked = try await anonymous.post("/login", ["token": revokedToken])
            #expect(revoked.status == 401 && revoked.body.contains("token &#39;gone&#39; was revoked"), "\(revoked.body.prefix(2000))")

            // The login: a redirect to where the person was going, and the cookie.
            let login = try await anonymous.post("/login", ["token": token, "next": "/audit"])
            #expect(login.status == 303)
            #expect(login.location == "/audit")
            let cookie = try #require(login.sessionCookie)
            #expect(cookie.count >= 40 && !token.contains(cookie) && !cookie.contains(token))
            let attributes = login.sessionCookieAttributes
            #expect(attributes.isSuperset(of: ["httponly", "samesite=strict", "path=/"]), "\(attributes)")
            #expect(!attributes.contains("secure"), "plain HTTP on loopback: no Secure")
            #expect(!attributes.contains { $0.hasPrefix("max-age") || $0.hasPrefix("expires") }, "a session cookie: gone with the browser")
            let behindTLS = try await anonymous.post("/login", ["token": token], headers: [("X-Forwarded-Proto", "https")])
            #expect(behindTLS.sessionCookieAttributes.contains("secure"), "behind a TLS proxy: Secure")

            let vera = DashboardVisitor(baseURL: fx.baseURL, cookie: cookie)
            let runs = try await vera.get("/runs")
            #expect(runs.status == 200)
            #expect(runs.contentType == "text/html; charset=utf-8")
            #expect(runs.body.contains("Logged in as token:vera (viewer)."), "the login's notice, once")
            #expect(runs.body.contains("token:vera (viewer)"))
            #expect(!runs.body.contains(token), "the token is never in a page")
            #expect(!(try await vera.get("/runs")).body.contains("Logged in as"), "the notice is shown once")
            #expect(try await vera.get("/login").location == "/runs", "logged in already")

            // Where to go after the login is a path of this server, never another site.
            for next in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/login?next=/x"] {
                let elsewhere = try await anonymous.post("/login", ["token": token, "next": next])
                #expect(elsewhere.location == "/runs", "next=\(next): \(elsewhere.location ?? "-")")
            }

            // Logout: refused without the session's CSRF token, done with it.
            let stale = try await vera.post("/logout", ["csrf": "nope"])
            #expect(stale.status == 403)
            #expect(try await vera.get("/runs").status == 200, "still logged in")
            let csrf = try #require(try await vera.get("/runs").csrf)
            let out = try await vera.post("/logout", ["csrf": csrf])
            #expect(out.status == 303 && out.location == "/login")
            #expect(out.sessionCookieAttributes.contains("max-age=0"))
            #expect(try await vera.get("/runs").status == 303, "the session is gone on the server, whatever the browser keeps")

            // Revoking the token ends its sessions at once.
            let again = try await DashboardVisitor.login(fx.baseURL, token: token)
            #expect(try await again.get("/runs").status == 200)
            try await fx.client.revokeToken(name: "vera", actor: "test")
            #expect(try await again.get("/runs").status == 303)
        }
    }

    @Test("CSRF: a button's form without the session's token, with a wrong one, with another session's, or from another site is refused and changes nothing")
    func csrf() async throws {
        try await ServeFixture.with { fx in
            let oscar = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("oscar", .operator))
            let olga = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("olga", .operator))
            // No worker: the run stays pending, and cancelling it would end it at once.
            let run = try await fx.client.enqueue(EnqueueRequest(kind: "diag.steps", input: #"{"steps": 1}"#, actor: "test")).id
            let path = "/runs/\(run.uuidString.lowercased())"
            let page = try await oscar.get(path)
            let csrf = try #require(page.csrf)
            #expect(page.body.contains(#"<button type="submit" name="action" value="cancel" class="cancel">Cancel</button>"#))
            let othersCSRF = try #require(try await olga.get(path).csrf)
            #expect(othersCSRF != csrf, "each session has its own token")

            let attempts: [(String, [String: String], [(String, String)])] = [
                ("no token", ["reason": "x"], []),
                ("a wrong token", ["reason": "x", "csrf": String(csrf.reversed())], []),
                ("another session's token", ["reason": "x", "csrf": othersCSRF], []),
                ("another site", ["reason": "x", "csrf": csrf], [("Sec-Fetch-Site", "cross-site")]),
            ]
            for (what, fields, headers) in attempts {
                let reply = try await oscar.post(path + "/cancel", fields, headers: headers)
                #expect(reply.status == 403, "\(what): \(reply.status)")
                #expect(reply.body.contains("Nothing was done"), "\(what)")
                #expect(try await fx.client.runSummary(id: run).state == .pending, "\(what): the run is untouched")
            }
            let events = try await fx.client.run(id: run).events.map(\.type)
            #expect(!events.contains("run.cancel_requested") && !events.contains("run.cancelled"), "\(events)")
            // A form sent as JSON is no form.
            let json = try await oscar.send(.POST, path + "/cancel", body: #"{"csrf": "\#(csrf)"}"#, headers: [("Content-Type", "application/json")])
            #expect(json.status == 415)
            // Without a session a form goes to the login.
            #expect(try await DashboardVisitor(baseURL: fx.baseURL).post(path + "/cancel", ["csrf": csrf]).location == "/login")

            let done = try await oscar.post(path + "/cancel", ["reason": "not needed", "csrf": csrf])
            #expect(done.status == 303 && done.location == path)
            let summary = try await fx.client.runSummary(id: run)
            #expect(summary.state == .cancelled)
            #expect(summary.cancelRequestedBy == "token:oscar")
            #expect(try await oscar.get(path).body.contains("Cancelled by token:oscar."))
        }
    }

    @Test("buttons by role: a viewer's run page has none, an operator's Cancel, an approver's Approve, Reject and Cancel; a viewer's post is refused")
    func buttonsByRole() async throws {
        try await ServeFixture.with(catalog: Self.registry.catalog) { fx in
            let run = try await fx.client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "token:alice")).id
            let pool = fx.db.startPool(Self.registry)
            defer { pool.pool.shutdown() }
            try await eventually("the run waits for its approval") { try await fx.client.runSummary(id: run).state == .waiting }
            let path = "/runs/\(run.uuidString.lowercased())"
            let viewer = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("vic", .viewer))
            let operatorVisitor = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("opal", .operator))
            let approver = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("bob", .approver))

            let seen = try await viewer.get(path)
            #expect(seen.status == 200)
            #expect(seen.body.contains("waiting for approval"))
            #expect(!seen.body.contains(#"class="actions""#) && !seen.body.contains("/approve\"") && !seen.body.contains(">Cancel<"), "a viewer sees no buttons")
            let operatorPage = try await operatorVisitor.get(path).body
            #expect(operatorPage.contains(">Cancel</button>") && !operatorPage.contains(">Approve</button>") && !operatorPage.contains(">Reject</button>"))
            let approverPage = try await approver.get(path).body
            #expect(approverPage.contains(">Approve</button>") && approverPage.contains(">Reject</button>") && approverPage.contains(">Cancel</button>"))
            #expect(!approverPage.contains(">Retry</button>"), "retry is for failed and cancelled runs")

            // A viewer's post, with its own valid CSRF token: refused by role; nothing stored.
            let viewerCSRF = try #require(seen.csrf)
            for action in ["approve", "reject", "cancel", "retry"] {
                let reply = try await viewer.post(path + "/" + action, ["csrf": viewerCSRF, "reason": "because"])
                #expect(reply.status == 403, "\(action): \(reply.status)")
                #expect(reply.body.contains("token:vic has role viewer"), "\(action)")
            }
            #expect(try await fx.client.run(id: run).events.allSatisfy { $0.eventType != .signalSent }, "no signal stored")
            #expect(try await fx.client.runSummary(id: run).state == .waiting)
            try await pool.stop()
        }
    }

    @Test("an approver approves from the run page and the run goes on; the requester is refused with the four-eyes message; a rejection needs a reason")
    func approveFromThePage() async throws {
        try await ServeFixture.with(catalog: Self.registry.catalog) { fx in
            let run = try await fx.client.enqueue(EnqueueRequest(kind: ApprovalWorkflow.kind, actor: "token:alice")).id
            let pool = fx.db.startPool(Self.registry)
            defer { pool.pool.shutdown() }
            try await eventually("the run waits for its approval") { try await fx.client.runSummary(id: run).state == .waiting }
            let path = "/runs/\(run.uuidString.lowercased())"
            let alice = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("alice", .approver))
            let bob = try await DashboardVisitor.login(fx.baseURL, token: try await fx.token("bob", .approver))

            // The runs list puts it first, among the runs waiting for approval.
            let list = try await bob.get("/runs").body
            let awaiting = try #require(list.range(of: "Waiting for approval (1)"))
            #expect(list.range(of: "data-run=\"\(run.uuidString.lowercased())\"").map { $0.lowerBound > awaiting.lowerBound } == true)

            // The requester presses Approve: refused, on the page, with the reason; the run still waits.
            let own = try await alice.post(path + "/approve", ["csrf": try #require(try await alice.get(path).csrf), "reason": "mine"])
            #expect(own.status == 422)
            #expect(own.contentType == "text/html; charset=utf-8")
            #expect(own.body.contains("Not done: token:alice requested run \(run.uuidString) and cannot approve it: another approver must"), "\(own.body.prefix(3000))")
            #expect(own.body.contains(">Approve</button>"), "the page is the run's page, with its buttons")
            #expect(try await fx.client.runSummary(id: run).state == .waiting)

            // A rejection without a reason is refused, naming what is missing.
            let bobCSRF = try #require(try await bob.get(path).csrf)
            let noReason = try await bob.post(path + "/reject", ["csrf": bobCSRF, "reason": "  "])
            #expect(noReason.status == 422 && noReason.body.contains("reason is required to reject a run"))

            // Another approver presses Approve: done, and the run goes on to its end.
            let approved = try await bob.post(path + "/approve", ["csrf": bobCSRF, "reason": "looks <right>"])
            #expect(approved.status == 303 && approved.location == path)
            let after = try await bob.get(path)
            #expect(after.body.contains("Approved by token:bob."))
            let finished = try await fx.db.waitForFinish(run)
            #expect(finished.state == .succeeded)
            let detail = try await fx.client.run(id: run)
            #expect(detail.output?.contains("token:bob") == true)
            #expect(detail.events.first { $0.eventType == .signalSent }?.actor == "token:bob")
            let done = try await bob.get(path).body
            #expect(done.contains("after-approval") && done.contains("approval"))
            #expect(!done.contains(">Approve</button>") && !done.contains(">Cancel</button>"), "nothing left to press on a finished run")
            #expect(!done.contains("data-events="), "a finished run's page does not follow its stream")

            // The page's event stream answers for the session (the API's stream, authenticated by the cookie).
            let events = StreamLog()
            let (status, type) = try await fx.stream(path + "/events", token: nil, headers: [("Cookie", "kaji_session=\(try #require(bob.cookie))")]) { event in
                events.append(event)
                return event.event != "end"
            }
            #expect(status == 200 && type?.hasPrefix("text/event-stream") == true)
            #expect(events.changes.compactMap(\.auditType).contains("signal.sent"))
            #expect(events.all.last?.event == "end")
            try await pool.stop()
        }
    }
}
