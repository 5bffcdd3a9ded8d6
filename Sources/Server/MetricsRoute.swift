import Engine
import Foundation
import Hummingbird
import KajiMetrics
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization
import Workflows

/// `GET /metrics` of `kaji serve`, in the Prometheus text format, without a token (like a scrape target;
/// `kaji serve` listens on loopback unless told otherwise): this process's HTTP metrics, then the gauges
/// read from the database at each scrape (queues, waits, approvals, workers, backup freshness), computed
/// here once rather than by every worker.
struct MetricsRoute: Sendable {
    let server: KajiServer

    /// Adds `GET /metrics` to `router`.
    func register(on router: Router<BasicRequestContext>) {
        let client = server.client, logger = server.logger
        router.get("/metrics") { _, _ -> Response in
            // The clusters' API health, as the workers' checks stored it (ClusterHealthMetrics).
            let health: String
            do { health = try await ClusterHealthMetrics.render(client: client) } catch {
                logger.warning("metrics: cluster health unreadable", metadata: ["error": "\(error)"])
                health = ""
            }
            let text = ServerMetrics.shared.export.render() + (await ServerMetrics.shared.database.render(client: client, logger: logger)) + health
            return JSONBody.raw(.ok, text, contentType: PrometheusExport.contentType)
        }
    }
}

/// The metrics of one `kaji serve` process: its HTTP requests (one registry per process, like any
/// Prometheus client's default registry) and the cached parts of the database gauges.
final class ServerMetrics: Sendable {
    static let shared = ServerMetrics()

    /// Methods counted under their own name; others count as `other` (labels stay bounded).
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    static let requests = "kaji_http_requests_total"
    static let requestDuration = "kaji_http_request_duration_seconds"

    static let descriptions: [MetricDescription] = [
        MetricDescription(requests, .counter, "HTTP requests kaji serve answered, by method, route (the route's pattern, NotFound when none matched) and status code."),
        MetricDescription(requestDuration, .histogram, "Seconds kaji serve took to answer HTTP requests, by method and route.",
                          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    ]

    let export = PrometheusExport(descriptions: ServerMetrics.descriptions)
    let database = DatabaseMetrics()
}

/// Counts every request kaji serve answers (`kaji_http_requests_total`, `kaji_http_request_duration_seconds`).
/// Added first, so it sees the response the error middleware made of an error.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory

    init(factory: any MetricsFactory = ServerMetrics.shared.export.factory) {
        self.factory = factory
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let method = ServerMetrics.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        let status: Int
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            record(method: method, route: context.endpointPath ?? "NotFound", status: status, since: start)
            return response
        } catch {
            status = Int((error as? any HTTPResponseError)?.status.code ?? 500)
            record(method: method, route: context.endpointPath ?? "NotFound", status: status, since: start)
            throw error
        }
    }

    private func record(method: String, route: String, status: Int, since start: ContinuousClock.Instant) {
        Counter(label: ServerMetrics.requests, dimensions: [("method", method), ("route", route), ("status", "\(status)")], factory: factory).increment()
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        CoreMetrics.Timer(label: ServerMetrics.requestDuration, dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }
}

/// The database gauges of `/metrics`, read at each scrape (`KajiClient.databaseGauges`); the backup
/// freshness, which reads every succeeded backup run, at most once a minute.
final class DatabaseMetrics: Sendable {
    private struct Cached: Sendable {
        var at: ContinuousClock.Instant
        var clusters: [ClusterLastSuccess]
    }
    private let backups = Mutex<Cached?>(nil)

    /// How long a reading of the backup freshness is reused.
    static let backupCacheTime: Duration = .seconds(60)
    /// A scrape gives up on the database after this long (and says so in `kaji_database_up`).
    static let databaseTimeout: Duration = .seconds(10)

    static let queueRuns = MetricDescription("kaji_queue_runs", .gauge, "Unfinished runs per queue and state (pending, retrying, waiting, running), read from the database at this scrape.")
    static let queueDue = MetricDescription("kaji_queue_due_runs", .gauge,
                                            "Runs whose time has come per queue and state (pending, retrying, waiting): claimable now but for their concurrency keys.")
    static let queueOldestDue = MetricDescription("kaji_queue_oldest_due_age_seconds", .gauge,
                                                  "Seconds since the oldest due run of each queue and state became due (0 when none is due).")
    static let runsWaiting = MetricDescription("kaji_runs_waiting", .gauge, "Waiting runs per queue by what they wait for: sleep, signal (approvals among them) or poll.")
    static let approvalsWaiting = MetricDescription("kaji_approvals_waiting", .gauge, "Runs waiting for an approval, by kind.")
    static let approvalOldest = MetricDescription("kaji_approval_oldest_wait_seconds", .gauge, "Seconds the longest-waiting run of each kind has waited for its approval.")
    static let workers = MetricDescription("kaji_workers", .gauge,
                                           "Registered worker processes that have not stopped, by status: active (heartbeat within 60 s) or stale (no heartbeat for 60 s to 1 day).")
    static let workerHeartbeat = MetricDescription("kaji_worker_last_heartbeat_timestamp_seconds", .gauge,
                                                   "When each registered, unstopped worker last beat (seconds since 1970); workers silent for a day are left out.")
    static let backupFreshness = MetricDescription("kaji_cluster_last_backup_success_timestamp_seconds", .gauge,
                                                   "When each ready cluster's last backup succeeded (seconds since 1970), or when the cluster was created if none has yet.")
    static let databaseUp = MetricDescription("kaji_database_up", .gauge, "Whether kaji serve could read the database gauges at this scrape (1) or not (0).")
    static let readDuration = MetricDescription("kaji_database_gauges_duration_seconds", .gauge, "Seconds the database gauges of this scrape took to read.")

    /// Every family this part writes.
    static let descriptions = [queueRuns, queueDue, queueOldestDue, runsWaiting, approvalsWaiting, approvalOldest, workers, workerHeartbeat,
                               backupFreshness, databaseUp, readDuration]

    static let queueStates: [RunState] = [.pending, .retrying, .waiting, .running]

    func render(client: KajiClient, logger: Logger) async -> String {
        var out = MetricsText()
        let start = ContinuousClock.now
        do {
            guard let gauges = try await withDeadline(Self.databaseTimeout, { try await client.databaseGauges() }) else {
                throw KajiError(.databaseUnavailable, "the database gauges took longer than \(Self.databaseTimeout)")
            }
            let clusters = try await backupFreshness(client: client)
            Self.write(gauges, clusters: clusters, into: &out)
            out.gauge(Self.databaseUp, [([], 1)])
        } catch {
            logger.warning("metrics: cannot read the database gauges", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            out.gauge(Self.databaseUp, [([], 0)])
        }
        out.gauge(Self.readDuration, [([], (ContinuousClock.now - start).seconds)])
        return out.text
    }

    private func backupFreshness(client: KajiClient) async throws -> [ClusterLastSuccess] {
        let now = ContinuousClock.now
        if let cached = backups.withLock({ $0 }), now - cached.at < Self.backupCacheTime { return cached.clusters }
        guard let clusters = try await withDeadline(Self.databaseTimeout, { try await client.clusterLastSuccess(kind: ClusterKinds.backup) }) else {
            throw KajiError(.databaseUnavailable, "the backup freshness took longer than \(Self.databaseTimeout)")
        }
        backups.withLock { $0 = Cached(at: now, clusters: clusters) }
        return clusters
    }

    /// The gauges as text: every queue that has an unfinished run gets all four states (0 when empty), so
    /// its series do not come and go.
    static func write(_ gauges: DatabaseGauges, clusters: [ClusterLastSuccess], into out: inout MetricsText) {
        var byQueue: [String: [RunState: DatabaseGauges.Queue]] = [:]
        for row in gauges.queues { byQueue[row.queue, default: [:]][row.state] = row }
        let queues = byQueue.keys.sorted()
        let claimable = queueStates.filter { $0 != .running }
        out.gauge(queueRuns, queues.flatMap { queue in
            queueStates.map { state in ([("queue", queue), ("state", state.rawValue)], Double(byQueue[queue]?[state]?.runs ?? 0)) }
        })
        out.gauge(queueDue, queues.flatMap { queue in
            claimable.map { state in ([("queue", queue), ("state", state.rawValue)], Double(byQueue[queue]?[state]?.due ?? 0)) }
        })
        out.gauge(queueOldestDue, queues.flatMap { queue in
            claimable.map { state in ([("queue", queue), ("state", state.rawValue)], byQueue[queue]?[state]?.oldestDueAgeSeconds ?? 0) }
        })
        out.gauge(runsWaiting, gauges.waiting.map { ([("queue", $0.queue), ("wait", $0.wait)], Double($0.runs)) })
        out.gauge(approvalsWaiting, gauges.approvals.map { ([("kind", $0.kind)], Double($0.runs)) })
        out.gauge(approvalOldest, gauges.approvals.map { ([("kind", $0.kind)], $0.oldestWaitSeconds) })
        let active = gauges.workers.filter(\.active).count
        out.gauge(workers, [([("status", "active")], Double(active)), ([("status", "stale")], Double(gauges.workers.count - active))])
        out.gauge(workerHeartbeat, gauges.workers.map { ([("worker", $0.id), ("host", $0.host)], $0.lastHeartbeat) })
        out.gauge(backupFreshness, clusters.map { ([("cluster", $0.cluster)], $0.lastSuccess) })
    }
}

/// Where `kaji worker --metrics-listen` serves `/metrics`: HOST:PORT on loopback (127.0.0.0/8, ::1,
/// localhost) unless the caller allows any address.
public struct MetricsListenAddress: Sendable, Equatable {
    public let host: String
    public let port: Int

    /// Parses `HOST:PORT` (`[::1]:9464` for IPv6; port 0 picks a free one). Throws `invalidArgument` naming
    /// `field` for a malformed address, and for one beyond loopback unless `allowNonLoopback`.
    public init(_ text: String, allowNonLoopback: Bool = false, field: String = "metricsListen") throws {
        guard let colon = text.lastIndex(of: ":"), colon > text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw KajiError(.invalidArgument, "'\(text)' must be HOST:PORT, e.g. 127.0.0.1:9464", field: field)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw KajiError(.invalidArgument, "'\(text)' names no host: use e.g. 127.0.0.1:9464", field: field) }
        if !allowNonLoopback && !Self.isLoopback(host) {
            throw KajiError(.invalidArgument,
                            "'\(host)' is not a loopback address: metrics are served on 127.0.0.0/8, ::1 or localhost unless explicitly allowed (kaji worker --metrics-allow-remote)",
                            field: field)
        }
        self.host = host
        self.port = port
    }

    /// Whether `host` is `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ part in !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) <= 255 }) else {
            return false
        }
        return parts[0] == "127"
    }
}

/// A small HTTP server that answers `GET /metrics` with `render()` (a `kaji worker`'s own metrics) and 404
/// otherwise. A swift-service-lifecycle service.
public enum MetricsEndpoint {
    /// An application on `address`, calling `onRunning` with the bound port (port 0 picks a free one).
    public static func application(address: MetricsListenAddress, logger: Logger, render: @escaping @Sendable () -> String,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.get("/metrics") { _, _ -> Response in
            JSONBody.raw(.ok, render(), contentType: PrometheusExport.contentType)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "kaji-worker"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? address.port) },
            logger: logger)
    }
}
