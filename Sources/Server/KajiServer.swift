import Engine
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import ServiceLifecycle
import Workflows

/// The HTTP API of Kaji (`kaji serve`): every route under `/api/v1` calls `KajiClient` or `ClusterService`
/// and nothing else. Bearer tokens (`kaji token create`) authenticate callers; each route needs a role (see
/// `APIRoutes.operations`); the actor of what a caller does is their `token:NAME`.
public struct KajiServer: Sendable {
    /// Request bodies larger than this are refused with 413 (1 MiB).
    public static let maxBodyBytes = 1 << 20

    let client: KajiClient
    let clusters: ClusterService
    /// The keys for secrets; nil when the environment configures none (the secret routes then fail with 503).
    let keys: SecretKeyring?
    /// Slack's signing secret and users; nil when not configured (the Slack routes then answer 503).
    let slack: SlackConfiguration?
    let logger: Logger
    /// How long the server keeps one event stream (`GET /api/v1/runs/{id}/events`) open before closing it;
    /// clients reconnect with their last event id (default 15 minutes).
    public var eventStreamLimit: Duration = .seconds(15 * 60)

    /// - Parameters:
    ///   - keys: the secret keyring (default nil: the secret routes answer that none is configured).
    ///   - slack: the Slack app's configuration (default nil: `/slack/*` answer that none is configured).
    public init(client: KajiClient, keys: SecretKeyring? = nil, slack: SlackConfiguration? = nil, logger: Logger) {
        self.client = client
        self.clusters = ClusterService(client: client)
        self.keys = keys
        self.slack = slack
        self.logger = logger
    }

    /// The router: the operations of `openapi.yaml` through the server generated from it (the gate checks
    /// each one's bearer token and role, see `APIRoutes.operations`), then the dashboard, Slack and metrics.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(HTTPMetricsMiddleware<BasicRequestContext>())
        router.middlewares.add(ErrorMiddleware<BasicRequestContext>(logger: logger))
        do {
            try APIHandler(server: self).registerHandlers(on: router, serverURL: Servers.Server1.url(), configuration: .kaji, middlewares: [APIGate(server: self)])
        } catch {
            // Only a malformed server URL in openapi.yaml throws here, and `/` is not one.
            logger.critical("the API's routes could not be registered", metadata: ["error": "\(error)"])
        }
        Dashboard(server: self).register(on: router)
        SlackCommands(server: self, configuration: slack).register(on: router)
        MetricsRoute(server: self).register(on: router)
        return router
    }

    /// An application listening on `host:port` (port 0: any free port), calling `onRunning` with the port
    /// once the socket is bound.
    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "kaji"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The caller's principal; nil for a route that needs none. Throws `unauthenticated` (no, unknown,
    /// revoked or expired token) or `permissionDenied` (a role below the route's).
    func authorize(_ request: Request, role: APIRole?) async throws -> Principal? {
        try await authorize(authorization: request.headers[.authorization], role: role)
    }

    /// The principal of an `Authorization` header's value (see `authorize(_:role:)`).
    func authorize(authorization header: String?, role: APIRole?) async throws -> Principal? {
        guard let role else { return nil }
        guard let header else {
            throw KajiError(.unauthenticated, "no Authorization header: send Authorization: Bearer TOKEN (kaji token create)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw KajiError(.unauthenticated, "the Authorization header must be Bearer TOKEN")
        }
        let principal = try await client.authenticate(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        guard principal.role >= role else {
            throw KajiError(.permissionDenied, "\(principal.actor) has role \(principal.role.rawValue); this needs \(role.rawValue) or above")
        }
        return principal
    }

    /// The body, at most `maxBodyBytes` (413 beyond, judged by Content-Length before reading when given).
    func readBody(_ request: inout Request) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maxBodyBytes {
            throw KajiError(.payloadTooLarge, "body is \(length) bytes; at most \(Self.maxBodyBytes) are taken", field: "body")
        }
        let buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
        return Data(buffer.readableBytesView)
    }
}
