import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import Workflows

/// How the dashboard runs (read once, when `kaji serve` builds its router).
struct DashboardConfiguration: Sendable {
    /// Whether session cookies carry `Secure` whatever the request (default false; then only when the
    /// request came over TLS, or through a proxy that says so with `X-Forwarded-Proto: https`).
    /// `KAJI_DASHBOARD_SECURE_COOKIE=1` (or `true`) sets it: do, behind a TLS proxy.
    var secureCookies = false

    /// From the environment; an unreadable value is logged and ignored.
    static func fromEnvironment(_ environment: [String: String], logger: Logger) -> DashboardConfiguration {
        var configuration = DashboardConfiguration()
        if let value = environment["KAJI_DASHBOARD_SECURE_COOKIE"] {
            switch value.lowercased() {
            case "1", "true", "yes": configuration.secureCookies = true
            case "0", "false", "no", "": configuration.secureCookies = false
            default: logger.warning("KAJI_DASHBOARD_SECURE_COOKIE must be 1 or 0 (true or false); ignored", metadata: ["value": "\(value.prefix(20))"])
            }
        }
        return configuration
    }
}

/// The dashboard of `kaji serve`: server-rendered HTML pages at `/` (not part of `/api/v1`). A person
/// logs in with an API token (`kaji token create`); the server keeps a session and the browser a cookie
/// with its id. Every page reads through `KajiClient` (and `ClusterService`), every button posts a form
/// that goes through `KajiClient` with the session's principal as the actor, checked against a CSRF token
/// of the session. Pages work without JavaScript; on a run page a small inline script follows the run's
/// event stream and refreshes the page's live part.
///
/// Routes: `GET /` (→ `/runs`), `GET|POST /login`, `POST /logout`, `GET /runs`, `GET /runs/{id}`,
/// `GET /runs/{id}/events` (the run's Server-Sent Events for the session), `POST /runs/{id}/{approve|reject|cancel|retry}`,
/// `GET /clusters`, `GET /clusters/{name}`, `GET /audit`.
struct Dashboard: Sendable {
    let server: KajiServer
    let configuration: DashboardConfiguration
    let sessions: DashboardSessions

    static let cookieName = "kaji_session"
    /// Form bodies larger than this are refused (64 KiB).
    static let maxFormBytes = 64 << 10

    var client: KajiClient { server.client }
    var logger: Logger { server.logger }

    init(server: KajiServer, configuration: DashboardConfiguration? = nil) {
        self.server = server
        self.configuration = configuration ?? .fromEnvironment(ProcessInfo.processInfo.environment, logger: server.logger)
        self.sessions = DashboardSessions()
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Self.redirect("/runs") }
        router.get("/login") { request, _ in try await loginPage(request) }
        router.post("/login") { request, _ in try await login(request) }
        router.post("/logout") { request, _ in try await logout(request) }
        router.get("/runs") { request, context in try await page(request, context) { try await runsPage($0) } }
        router.get("/runs/:id") { request, context in try await page(request, context) { try await runPage($0) } }
        router.get("/runs/:id/events") { request, context in try await events(request, context) }
        router.post("/runs/:id/:action") { request, context in try await form(request, context) { try await runAction($0) } }
        router.get("/clusters") { request, context in try await page(request, context) { try await clustersPage($0) } }
        router.get("/clusters/:name") { request, context in try await page(request, context) { try await clusterPage($0) } }
        router.get("/audit") { request, context in try await page(request, context) { try await auditPage($0) } }
    }
}

/// One request of a person who is logged in, as a page sees it.
struct DashboardCall: Sendable {
    let request: Request
    let parameters: Parameters
    let session: DashboardSessions.Session
    let principal: Principal
    /// The query string's fields.
    let query: DashboardForm
    /// The posted form's fields (empty for a GET).
    var form = DashboardForm()
    /// A notice from the request before (a form's redirect), shown once.
    var flash: DashboardSessions.Flash?
    /// The nonce of this answer's inline style and script (Content-Security-Policy).
    let nonce = DashboardSessions.randomToken()

    /// `path?query` of this request: where the login sends a person back to.
    var location: String { request.uri.path + (request.uri.query.map { "?" + $0 } ?? "") }

    func path(_ name: String) -> String {
        let value = parameters.get(name) ?? ""
        return value.removingPercentEncoding ?? value
    }
}

extension Dashboard {
    // MARK: sessions

    /// The session of the request's cookie, if it is live and its token still is. Throws when the token
    /// cannot be checked (the database is unreachable): that is no reason to log anyone out.
    func session(of request: Request) async throws -> (DashboardSessions.Session, Principal)? {
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty, let session = await sessions.session(id) else { return nil }
        do {
            return (session, try await client.authenticate(session.credential))
        } catch let error as KajiError where error.code == .unauthenticated {
            await sessions.remove(id)
            return nil
        }
    }

    /// The session as `session(of:)` finds it, or the page that says why it could not be checked.
    func checkedSession(_ request: Request) async -> Result<(DashboardSessions.Session, Principal)?, DashboardFailure> {
        do {
            return .success(try await session(of: request))
        } catch {
            return .failure(DashboardFailure(response: failurePage(error, path: request.uri.path)))
        }
    }

    /// A page without navigation for an error met before a session was found.
    func failurePage(_ error: any Error, path: String) -> Response {
        let status: HTTPResponse.Status, message: String
        if let error = error as? KajiError, let known = ErrorStatus.status(for: error.code) {
            status = known
            message = error.message
        } else {
            logger.error("dashboard request failed", metadata: ["path": "\(path)", "error": "\(DatabaseConfig.describe(error))"])
            status = .internalServerError
            message = "The server failed; its log says why."
        }
        let nonce = DashboardSessions.randomToken()
        let body: HTML = "<h1>Not available</h1><p class=\"flash bad\" role=\"alert\">\(message)</p><p><a href=\"/runs\">Try again</a></p>"
        return Self.html(status, DashboardLayout.document(title: "Not available", nonce: nonce, navigation: .empty, body: body), nonce: nonce)
    }

    /// Whether cookies set in answer to `request` carry `Secure`.
    func secure(_ request: Request) -> Bool {
        if configuration.secureCookies || request.head.scheme?.lowercased() == "https" { return true }
        return request.headers[DashboardField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    func sessionCookie(_ value: String, request: Request, clear: Bool = false) -> Cookie {
        Cookie(name: Self.cookieName, value: value, maxAge: clear ? 0 : nil, path: "/", secure: secure(request), httpOnly: true, sameSite: .strict)
    }

    /// A page for a person logged in: without a session, a redirect to the login page (which comes back here).
    func page(_ request: Request, _ context: BasicRequestContext,
              _ body: @Sendable (DashboardCall) async throws -> Response) async throws -> Response {
        let found: (DashboardSessions.Session, Principal)?
        switch await checkedSession(request) {
        case .success(let value): found = value
        case .failure(let failure): return failure.response
        }
        guard let (session, principal) = found else {
            return Self.redirect(DashboardForm.url("/login", [("next", request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))]))
        }
        var call = DashboardCall(request: request, parameters: context.parameters, session: session, principal: principal,
                                 query: (try? DashboardForm.parse(request.uri.query ?? "")) ?? DashboardForm())
        // A page's part (a script's refresh) leaves the notice for the page.
        if call.query["part"] == nil { call.flash = await sessions.takeFlash(session.id) }
        return try await guarded(call) { try await body(call) }
    }

    /// A form post of a person logged in: the session, then a same-site request, then the CSRF token; any
    /// of them wrong and nothing is done.
    func form(_ request: Request, _ context: BasicRequestContext, _ body: @Sendable (DashboardCall) async throws -> Response) async throws -> Response {
        let found: (DashboardSessions.Session, Principal)?
        switch await checkedSession(request) {
        case .success(let value): found = value
        case .failure(let failure): return failure.response
        }
        guard let (session, principal) = found else {
            return Self.redirect("/login")
        }
        var request = request
        var call = DashboardCall(request: request, parameters: context.parameters, session: session, principal: principal, query: DashboardForm())
        return try await guarded(call) {
            call.form = try await readForm(&request)
            try Self.checkOrigin(request)
            guard let sent = call.form["csrf"], Self.constantTimeEqual(sent, session.csrf) else {
                throw DashboardRefusal(status: .forbidden, title: "Form refused",
                                       message: "The form carried no valid CSRF token for this session (a stale page, or a form from another site). Nothing was done: reload the page and try again.")
            }
            return try await body(call)
        }
    }

    /// Runs `body`, answering its errors with an HTML page (never JSON, never a driver's text).
    func guarded(_ call: DashboardCall, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let refusal as DashboardRefusal {
            return errorPage(call, status: refusal.status, title: refusal.title, message: refusal.message)
        } catch let error as KajiError where ErrorStatus.status(for: error.code) != nil {
            let status = ErrorStatus.status(for: error.code) ?? .internalServerError
            return errorPage(call, status: status, title: status == .notFound ? "Not found" : "Refused", message: error.message)
        } catch {
            logger.error("dashboard page failed", metadata: ["path": "\(call.request.uri.path)", "error": "\(DatabaseConfig.describe(error))"])
            return errorPage(call, status: .internalServerError, title: "Server error", message: "The server failed; its log says why.")
        }
    }

    func errorPage(_ call: DashboardCall, status: HTTPResponse.Status, title: String, message: String) -> Response {
        let body: HTML = """
            <h1>\(title)</h1>
            <p class="flash bad" role="alert">\(message)</p>
            <p><a href="/runs">Runs</a></p>
            """
        return Self.html(status, DashboardLayout.page(title: title, call: call, body: body), nonce: call.nonce)
    }

    /// The request's form body (`application/x-www-form-urlencoded`, at most `maxFormBytes`).
    func readForm(_ request: inout Request) async throws -> DashboardForm {
        let type = (request.headers[.contentType] ?? "").lowercased()
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw DashboardRefusal(status: .unsupportedMediaType, title: "Form refused", message: "The form must be sent as application/x-www-form-urlencoded.")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxFormBytes)
        } catch is NIOTooManyBytesError {
            throw DashboardRefusal(status: .contentTooLarge, title: "Form refused", message: "The form is larger than \(Self.maxFormBytes) bytes.")
        }
        return try DashboardForm.parse(String(buffer: buffer))
    }

    /// Refuses a post a browser marks as coming from another site (`Sec-Fetch-Site: cross-site`).
    static func checkOrigin(_ request: Request) throws {
        if request.headers[DashboardField.Name("Sec-Fetch-Site")!]?.lowercased() == "cross-site" {
            throw DashboardRefusal(status: .forbidden, title: "Form refused", message: "The form came from another site. Nothing was done.")
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    // MARK: answers

    /// An HTML answer with the headers every page carries: no caching, no sniffing, no framing, no
    /// referrer, and a Content-Security-Policy that allows only this answer's inline style and script.
    static func html(_ status: HTTPResponse.Status, _ page: HTML, nonce: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[DashboardField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'nonce-\(nonce)'; script-src 'nonce-\(nonce)'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[DashboardField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[DashboardField.Name("X-Frame-Options")!] = "DENY"
        headers[DashboardField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.description)))
    }

    /// 303 See Other to `location` (a path of this server).
    static func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}

/// A session that could not be checked, with the page that says why.
struct DashboardFailure: Error {
    var response: Response
}

/// A request the dashboard refuses, with the page that says why.
struct DashboardRefusal: Error {
    var status: HTTPResponse.Status
    var title: String
    var message: String
}

/// `HTTPField` (of swift-http-types), reached through the fields Hummingbird exports.
typealias DashboardField = HTTPFields.Element
