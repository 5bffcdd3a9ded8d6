import Engine
import Foundation
import Logging
import Provisioner
import ServiceLifecycle
import Synchronization

/// The platform's API health checker, a service of `kaji worker`: for every cluster in state `ready` (of its
/// zone), every `healthCheck.interval` (30 s by default), `GET https://VIP:6443/readyz?verbose=true` with the
/// cluster's CA pinned; every `[+]`/`[-]` line, the verdict, the latency and up/down with the reason are
/// stored in PostgreSQL (`KajiClient.recordHealthCheck`), where `kaji serve` reads them for `/metrics`.
///
/// **Driven by a claim, not by runs.** Each worker looks for due checks every few seconds and claims them
/// (`KajiClient.claimHealthChecks`): one statement moves a cluster's next check one interval on and takes a
/// lease with a fresh token, so that however many workers run, each cluster is checked once per interval, and
/// only the claimant records the result (a worker that stalled past its lease records nothing). A worker that
/// dies frees its clusters when the lease (timeout + 5 s) runs out. A check is read-only and idempotent, so it
/// needs none of a workflow run's machinery (steps, retries, approvals); a run per check would add four audit
/// events per cluster every 30 s to the append-only audit trail and rows to the runs table, and the cron
/// grammar of schedules could not express every interval.
public final class ClusterHealthChecker: Service, Sendable {
    let client: KajiClient
    let inventory: ClusterInventory
    let settings: ClusterHealthSettings
    let logger: Logger
    /// The last status this checker saw per cluster (to log changes once).
    private let seen = Mutex<[String: String]>([:])

    public init(client: KajiClient, inventory: ClusterInventory, settings: ClusterHealthSettings, logger: Logger) {
        self.client = client
        self.inventory = inventory
        self.settings = settings
        self.logger = logger
    }

    /// Checks until the task is cancelled or a graceful shutdown begins (checks under way are abandoned
    /// unrecorded; their claims lapse with their leases); then closes its HTTP client. Database errors are
    /// logged and the next look tried later: the checker never stops the worker.
    public func run() async throws {
        // Made here, so that it is shut down by whoever made it (an HTTP client must be).
        let probe = APIServerProbe(connectTimeout: min(settings.timeout, .seconds(5)))
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                var pause = self.settings.maxPause
                while !Task.isCancelled {
                    do {
                        let (claims, shortest) = try await self.claimDue()
                        for claim in claims {
                            group.addTask { await self.check(claim, probe: probe) }
                        }
                        pause = Self.pause(shortest: shortest, maxPause: self.settings.maxPause)
                    } catch where !Task.isCancelled {
                        self.logger.warning("API health checks: could not look for due checks: \(error)")
                        pause = self.settings.maxPause
                    } catch {
                        break
                    }
                    try? await Task.sleep(for: pause)
                }
            }
        }
        try? await probe.shutdown()
    }

    /// A quarter of the shortest interval, from 100 ms to `maxPause`.
    static func pause(shortest: Duration?, maxPause: Duration) -> Duration {
        guard let shortest else { return maxPause }
        return max(.milliseconds(100), min(shortest / 4, maxPause))
    }

    /// Claims the checks due now among the ready clusters of the zone; also returns the shortest interval
    /// among them.
    func claimDue() async throws -> (claims: [ClusterHealthClaim], shortest: Duration?) {
        let clusters = try await inventory.list().filter { record in
            record.clusterState == .ready && (settings.zone == nil || record.zone == settings.zone)
        }
        let candidates = clusters.map { ClusterHealthCandidate(cluster: $0.name, interval: HealthCheckInterval.of($0.spec)) }
        guard !candidates.isEmpty else { return ([], nil) }
        let claims = try await client.claimHealthChecks(candidates, worker: settings.checker, lease: settings.lease)
        return (claims, candidates.map(\.interval).min())
    }

    /// Probes one claimed cluster and records the result under the claim.
    func check(_ claim: ClusterHealthClaim, probe: APIServerProbe) async {
        let result = await probe.readyz(endpoint: claim.apiEndpoint ?? "", caPEM: claim.caCertificate, timeout: settings.timeout,
                                        overrides: settings.overrides)
        // Cancelled (shutting down): the probe's failure says nothing about the cluster.
        guard !Task.isCancelled else { return }
        let stored = Self.result(of: result, cluster: claim.cluster, checker: settings.checker)
        do {
            let recorded = try await client.recordHealthCheck(stored, claim: claim, retention: settings.retention)
            if !recorded {
                logger.info("API health check of \(claim.cluster) not recorded: its claim was taken over (the check outlasted its lease)",
                            metadata: ["cluster": "\(claim.cluster)"])
                return
            }
        } catch {
            logger.warning("API health check of \(claim.cluster) could not be recorded: \(error)", metadata: ["cluster": "\(claim.cluster)"])
            return
        }
        let status = stored.status
        let previous = seen.withLock { seen -> String? in
            defer { seen[claim.cluster] = status }
            return seen[claim.cluster]
        }
        if previous != status {
            let level: Logger.Level = stored.passed ? .info : .warning
            logger.log(level: level, "API health of \(claim.cluster): \(status)\(stored.reason.map { " (\($0))" } ?? "")",
                       metadata: ["cluster": "\(claim.cluster)", "up": "\(stored.up)"])
        }
    }

    /// A probe's result as the store keeps it.
    static func result(of probe: ReadyzProbeResult, cluster: String, checker: String) -> ClusterHealthResult {
        let seconds = Double(probe.duration.components.seconds) + Double(probe.duration.components.attoseconds) / 1e18
        return ClusterHealthResult(
            cluster: cluster, checkedBy: checker, up: probe.up, passed: probe.passed,
            failure: probe.failure.map(Self.failure), reason: probe.reason, httpStatus: probe.httpStatus, durationSeconds: seconds,
            checks: (probe.report?.checks ?? []).map { ClusterHealthCheck(name: $0.name, ok: $0.ok, detail: $0.detail) })
    }

    static func failure(_ failure: ReadyzProbeResult.Failure) -> ClusterHealthFailure {
        switch failure {
        case .connect: return .connect
        case .tls: return .tls
        case .timeout: return .timeout
        case .http: return .http
        case .configuration: return .configuration
        }
    }
}
