import Engine
import Foundation
import Hummingbird

/// The login page: a person pastes an API token; the server checks it, keeps a session (with the token's
/// hash, never the token) and sets a cookie with the session's random id. Logout ends the session.
extension Dashboard {
    /// Where to go after the login: a path of this server (never another site's address), else `/runs`.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/login"),
              next.utf8.count <= 2000, next.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else { return "/runs" }
        return next
    }

    func loginPage(_ request: Request) async throws -> Response {
        let query = (try? DashboardForm.parse(request.uri.query ?? "")) ?? DashboardForm()
        let next = Self.safeNext(query["next"])
        switch await checkedSession(request) {
        case .success(let found): if found != nil { return Self.redirect(next) }
        case .failure(let failure): return failure.response
        }
        return loginForm(status: .ok, next: next, message: nil)
    }

    func loginForm(status: HTTPResponse.Status, next: String, message: String?) -> Response {
        let nonce = DashboardSessions.randomToken()
        let problem: HTML = message.map { text -> HTML in "<p class=\"flash bad\" role=\"alert\">\(text)</p>" } ?? .empty
        let body: HTML = """
            <h1>Log in</h1>
            \(problem)
            <form method="post" action="/login" class="login">
            <label>API token <input type="password" name="token" autocomplete="off" spellcheck="false" required placeholder="kaji_…"></label>
            <input type="hidden" name="next" value="\(next)">
            <button type="submit">Log in</button>
            </form>
            <p class="muted">An admin makes tokens with <code>kaji token create NAME --role viewer|operator|approver|admin</code>. \
            The token is checked once and not kept: the browser gets a session cookie instead. Viewers read; operators may also \
            cancel and retry runs; approvers may also approve and reject them.</p>
            """
        return Self.html(status, DashboardLayout.document(title: "Log in", nonce: nonce, navigation: .empty, body: body), nonce: nonce)
    }

    func login(_ request: Request) async throws -> Response {
        var request = request
        let form: DashboardForm
        do {
            form = try await readForm(&request)
            try Self.checkOrigin(request)
        } catch let refusal as DashboardRefusal {
            return loginForm(status: refusal.status, next: "/runs", message: refusal.message)
        } catch let error as KajiError {
            return loginForm(status: .badRequest, next: "/runs", message: error.message)
        }
        let next = Self.safeNext(form["next"])
        guard let token = form.text("token") else {
            return loginForm(status: .unprocessableContent, next: next, message: "Paste an API token (kaji token create).")
        }
        let checked: (credential: TokenCredential, principal: Principal)
        do {
            checked = try await client.credential(token: token)
        } catch let error as KajiError where error.code == .unauthenticated {
            // The message names a known token's name at most, never what was pasted.
            return loginForm(status: .unauthorized, next: next, message: "Not logged in: \(error.message).")
        } catch {
            logger.error("dashboard login failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return loginForm(status: .internalServerError, next: next, message: "The server failed; its log says why.")
        }
        // A fresh session id at every login (any session the browser had before is ended).
        if let old = request.cookies[Self.cookieName]?.value { await sessions.remove(old) }
        let session = await sessions.create(checked.credential)
        await sessions.setFlash(session.id, .init(ok: true, message: "Logged in as \(checked.principal.actor) (\(checked.principal.role.rawValue))."))
        var response = Self.redirect(next)
        response.setCookie(sessionCookie(session.id, request: request))
        return response
    }

    func logout(_ request: Request) async throws -> Response {
        var request = request
        let found: (DashboardSessions.Session, Principal)?
        switch await checkedSession(request) {
        case .success(let value): found = value
        case .failure(let failure): return failure.response
        }
        guard let (session, _) = found else {
            var response = Self.redirect("/login")
            response.setCookie(sessionCookie("", request: request, clear: true))
            return response
        }
        let form = (try? await readForm(&request)) ?? DashboardForm()
        guard (try? Self.checkOrigin(request)) != nil, let sent = form["csrf"], Self.constantTimeEqual(sent, session.csrf) else {
            let nonce = DashboardSessions.randomToken()
            return Self.html(.forbidden, DashboardLayout.document(title: "Form refused", nonce: nonce, navigation: .empty, body: """
                <h1>Form refused</h1><p class="flash bad" role="alert">The logout form carried no valid CSRF token for this session. You are still logged in.</p><p><a href="/runs">Runs</a></p>
                """), nonce: nonce)
        }
        await sessions.remove(session.id)
        var response = Self.redirect("/login")
        response.setCookie(sessionCookie("", request: request, clear: true))
        return response
    }
}
