import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore
import NIOHTTP1

/// An answer of a dashboard page, read without following redirects.
struct PageReply: Sendable {
    let status: Int
    let body: String
    let headers: HTTPHeaders

    var contentType: String? { headers.first(name: "Content-Type") }
    var location: String? { headers.first(name: "Location") }
    /// The `Set-Cookie` header of the session cookie, if any.
    var sessionCookieHeader: String? { headers["Set-Cookie"].first { $0.hasPrefix("kaji_session=") } }
    /// The session cookie's value.
    var sessionCookie: String? {
        sessionCookieHeader.map { String($0.dropFirst("kaji_session=".count).prefix { $0 != ";" }) }
    }
    /// The attributes of the session cookie, lowercased (`httponly`, `samesite=strict`, `path=/`, …).
    var sessionCookieAttributes: Set<String> {
        guard let header = sessionCookieHeader else { return [] }
        return Set(header.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
    }

    /// The value of the first hidden `csrf` field of the page.
    var csrf: String? { Self.firstMatch(#"name="csrf" value="([^"]+)""#, in: body) }

    static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), match.numberOfRanges > 1,
              let range = Range(match.range(at: 1), in: text) else { return nil }
        return String(text[range])
    }

    /// How many times `needle` occurs.
    func count(_ needle: String) -> Int { body.components(separatedBy: needle).count - 1 }
}

/// A person at the dashboard of a `kaji serve`: plain HTTP, no redirect followed, the session cookie kept.
struct DashboardVisitor: Sendable {
    let baseURL: String
    var cookie: String?

    /// One client for every visitor: redirects are answers to check, not to follow.
    static let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))

    init(baseURL: String, cookie: String? = nil) {
        self.baseURL = baseURL
        self.cookie = cookie
    }

    /// Logs in with `token`; the visitor keeps the session cookie. Throws if the login did not redirect.
    static func login(_ baseURL: String, token: String) async throws -> DashboardVisitor {
        var visitor = DashboardVisitor(baseURL: baseURL)
        let reply = try await visitor.post("/login", ["token": token])
        guard reply.status == 303, let cookie = reply.sessionCookie else {
            throw KajiTestingError("login failed: \(reply.status) \(reply.body.prefix(500))")
        }
        visitor.cookie = cookie
        return visitor
    }

    func get(_ path: String, headers extra: [(String, String)] = []) async throws -> PageReply {
        try await send(.GET, path, body: nil, headers: extra)
    }

    /// Posts `fields` URL-encoded.
    func post(_ path: String, _ fields: [String: String], headers extra: [(String, String)] = []) async throws -> PageReply {
        try await send(.POST, path, body: Self.encode(fields), headers: [("Content-Type", "application/x-www-form-urlencoded")] + extra)
    }

    func send(_ method: HTTPMethod, _ path: String, body: String?, headers extra: [(String, String)]) async throws -> PageReply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: "kaji_session=\(cookie)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return PageReply(status: Int(response.status.code), body: String(buffer: buffer), headers: response.headers)
    }

    static func encode(_ fields: [String: String]) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return fields.sorted { $0.key < $1.key }.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
