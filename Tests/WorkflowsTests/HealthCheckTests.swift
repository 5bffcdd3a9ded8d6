import Engine
import Foundation
import KajiTesting
import PostgresNIO
import Provisioner
import SakuraSimulator
import Server
import Testing
@testable import Workflows

/// `healthCheck.interval` in the manifest.
@Suite("API health checks: the manifest's healthCheck.interval")
struct HealthCheckManifestTests {
    static let base = """
        apiVersion: kaji/v1
        kind: Cluster
        name: hc-a
        zone: is1a
        kubernetesVersion: "1.30.2"
        network: {subnet: 192.168.100.0/24, controlPlaneVIP: 192.168.100.10, nodeAddressStart: 192.168.100.11, loadBalancerRange: 192.168.100.200-192.168.100.220}
        masters: {replicas: 1, plan: {cpu: 2, memoryGB: 4}, diskGB: 40}
        workers: {replicas: 0, plan: {cpu: 2, memoryGB: 4}, diskGB: 40}
        owners: {team: payments, sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzy11l1FpGd+ga6ufVOPUDSKHe9SGQ6ETGNxt35HJBL a@b"]}

        """

    @Test("absent: 30 s; given: read as a duration from 1s to 1h")
    func interval() throws {
        let plain = try ClusterManifest.load(yaml: Self.base)
        #expect(plain.healthCheck == nil)
        #expect(HealthCheckInterval.of(plain) == .seconds(30))
        let fast = try ClusterManifest.load(yaml: Self.base + "healthCheck:\n  interval: 1m30s\n")
        #expect(fast.healthCheck?.interval == "1m30s")
        #expect(HealthCheckInterval.of(fast) == .seconds(90))
        #expect(HealthCheckInterval.parse("1500ms") == .milliseconds(1500))
        #expect(HealthCheckInterval.parse("1h") == .seconds(3600))
        #expect(HealthCheckInterval.parse("30") == nil)
        #expect(HealthCheckInterval.parse("1s1m") == nil, "units largest first")
    }

    @Test("a bad interval, or an unknown field under healthCheck, is a problem naming the field")
    func problems() {
        let bad = ClusterManifest.check(yaml: Self.base + "healthCheck:\n  interval: soon\n")
        #expect(bad.problems.map(\.field) == ["healthCheck.interval"])
        #expect(bad.problems.first?.reason.contains("like 30s") == true, "\(bad.problems)")
        let short = ClusterManifest.check(yaml: Self.base + "healthCheck: {interval: 500ms}\n")
        #expect(short.problems.map(\.field) == ["healthCheck.interval"])
        #expect(short.problems.first?.reason.contains("from 1s to 1h") == true)
        let typo = ClusterManifest.check(yaml: Self.base + "healthCheck: {intervall: 10s}\n")
        #expect(typo.problems.map(\.field) == ["healthCheck.intervall"])
        #expect(typo.problems.first?.reason.contains("did you mean 'interval'") == true)
        #expect(ClusterManifest.check(yaml: Self.base + "healthCheck: {interval: 10s}\n").isValid)
    }

    @Test("the Prometheus text: HELP and TYPE for each family, labels escaped, values as stored")
    func metricsText() {
        let checks = [ClusterHealthCheck(name: "ping", ok: true, detail: "ok"), ClusterHealthCheck(name: "etcd", ok: false, detail: "failed: reason withheld")]
        let at = Date(timeIntervalSince1970: 1_800_000_000.5)
        let failing = ClusterHealthResult(cluster: "prod-a", checkedAt: at, checkedBy: "worker:w1", up: true, passed: false, failure: nil,
                                          reason: "readyz check failed: etcd", httpStatus: 500, durationSeconds: 0.0125, checks: checks)
        let down = ClusterHealthResult(cluster: "we\"ird", checkedAt: at, checkedBy: "worker:w1", up: false, passed: false, failure: .connect,
                                       reason: "connect: connection refused", httpStatus: nil, durationSeconds: 0.001, checks: [])
        let text = ClusterHealthMetrics.render([
            ClusterHealth(cluster: "prod-a", latest: failing, status: failing.status, statusSince: at, previousStatus: "up", nextCheckAt: at),
            ClusterHealth(cluster: "we\"ird", latest: down, status: down.status, statusSince: at, previousStatus: nil, nextCheckAt: at),
        ])
        for family in ["kaji_cluster_apiserver_up", "kaji_cluster_readyz_check_ok", "kaji_cluster_readyz_duration_seconds",
                       "kaji_cluster_readyz_last_check_timestamp_seconds", "kaji_cluster_readyz_passed"] {
            #expect(text.contains("# HELP \(family) ") && text.contains("# TYPE \(family) gauge\n"), "\(family)")
        }
        #expect(text.contains("kaji_cluster_apiserver_up{cluster=\"prod-a\"} 1\n"))
        #expect(text.contains("kaji_cluster_apiserver_up{cluster=\"we\\\"ird\"} 0\n"))
        #expect(text.contains("kaji_cluster_readyz_check_ok{cluster=\"prod-a\",check=\"etcd\"} 0\n"))
        #expect(text.contains("kaji_cluster_readyz_check_ok{cluster=\"prod-a\",check=\"ping\"} 1\n"))
        #expect(!text.contains("kaji_cluster_readyz_check_ok{cluster=\"we"), "a down server has no check series")
        #expect(text.contains("kaji_cluster_readyz_passed{cluster=\"prod-a\"} 0\n"))
        #expect(text.contains("kaji_cluster_readyz_duration_seconds{cluster=\"prod-a\"} 0.012500\n"))
        #expect(text.contains("kaji_cluster_readyz_last_check_timestamp_seconds{cluster=\"prod-a\"} 1800000000.500\n"))
        #expect(failing.status == "failing: etcd" && down.status == "down: connect")
    }
}

/// The claim that gives each cluster's check to one worker per interval, and the stored results.
@Suite("API health checks: claims and results in PostgreSQL", .timeLimit(.minutes(2)), .needsDatabase)
struct HealthCheckStoreTests {
    /// A `ready` cluster `name` in the inventory.
    func addCluster(_ db: TestDatabase, _ name: String, state: ClusterState = .ready) async throws {
        let inventory = ClusterInventory(store: db.store)
        try await inventory.upsert(ClusterRecord(name: name, zone: "is1a", spec: testClusterSpec(name: name, masters: 1, workers: 0), state: state,
                                                 switchID: nil, apiEndpoint: "https://192.168.100.10:6443", nodes: [], ownerTeam: "payments",
                                                 lastRunID: nil, createdAt: Date(), updatedAt: Date()))
    }

    func result(_ cluster: String, by worker: String, passed: Bool) -> ClusterHealthResult {
        ClusterHealthResult(cluster: cluster, checkedBy: worker, up: true, passed: passed, failure: nil, reason: passed ? nil : "readyz check failed: etcd",
                            httpStatus: passed ? 200 : 500, durationSeconds: 0.01,
                            checks: [ClusterHealthCheck(name: "etcd", ok: passed, detail: passed ? "ok" : "failed: reason withheld")])
    }

    @Test("many workers asking at once: each due cluster is claimed by exactly one; asked again within the interval, by none")
    func oneClaimPerInterval() async throws {
        try await TestDatabase.with(maxConnections: 20) { db in
            try await addCluster(db, "hc-a")
            try await addCluster(db, "hc-b")
            try await addCluster(db, "hc-c", state: .provisioning)
            let client = db.client(WorkflowRegistry())
            let candidates = ["hc-a", "hc-b", "hc-c"].map { ClusterHealthCandidate(cluster: $0, interval: .seconds(60)) }
            let claims = try await withThrowingTaskGroup(of: [ClusterHealthClaim].self) { group in
                for worker in 0..<8 {
                    group.addTask { try await client.claimHealthChecks(candidates, worker: "worker:w\(worker)", lease: .seconds(10)) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claims.map(\.cluster).sorted() == ["hc-a", "hc-b"], "one claim per ready cluster, none for a provisioning one")
            #expect(claims.first?.apiEndpoint == "https://192.168.100.10:6443")
            #expect(try await client.claimHealthChecks(candidates, worker: "worker:late", lease: .seconds(10)).isEmpty)
            // Recorded: the lease is free, but the next check is an interval away.
            for claim in claims {
                #expect(try await client.recordHealthCheck(result(claim.cluster, by: "worker:w", passed: true), claim: claim))
            }
            #expect(try await client.claimHealthChecks(candidates, worker: "worker:late", lease: .seconds(10)).isEmpty)
            await #expect(throws: KajiError.self) {
                try await client.claimHealthChecks([ClusterHealthCandidate(cluster: "hc-a", interval: .milliseconds(1))], worker: "worker:x", lease: .seconds(10))
            }
        }
    }

    @Test("apply's new healthCheck.interval is the checkers' pace from their next look: a shortened one does not wait for the old interval to end")
    func intervalFollowsApply() async throws {
        try await TestDatabase.with { db in
            var spec = testClusterSpec(name: "hc-a", masters: 1, workers: 0)
            spec.healthCheck = .init(interval: "1h")
            let inventory = ClusterInventory(store: db.store)
            try await inventory.upsert(ClusterRecord(name: "hc-a", zone: "is1a", spec: spec, state: "ready", switchID: nil,
                                                     apiEndpoint: "https://192.168.100.10:6443", nodes: [], ownerTeam: "payments",
                                                     lastRunID: nil, createdAt: Date(), updatedAt: Date()))
            let client = KajiClient(store: db.store, catalog: .kaji)
            let checker = ClusterHealthChecker(client: client, inventory: inventory, settings: ClusterHealthSettings(checker: "worker:w"), logger: db.logger)
            // Checked once at the hourly pace: the next check is an hour away.
            let first = try await checker.claimDue()
            #expect(first.claims.map(\.cluster) == ["hc-a"] && first.shortest == .seconds(3600))
            #expect(try await client.recordHealthCheck(result("hc-a", by: "worker:w", passed: true), claim: try #require(first.claims.first)))
            #expect(try await checker.claimDue().claims.isEmpty)

            // The manifest now asks for 1 s.
            spec.healthCheck = .init(interval: "1s")
            let report = try await ClusterService(client: client).apply(spec, dryRun: false, actor: "test")
            #expect(report.plan.action == .update && report.settingsRecorded == true)
            #expect(report.runID == nil)
            #expect(HealthCheckInterval.of(try #require(try await inventory.get("hc-a")).spec) == .seconds(1))
            try await eventually("the checker claims hc-a again at the 1 s pace, not an hour after its last check", timeout: .seconds(30)) {
                try await checker.claimDue().claims.map(\.cluster) == ["hc-a"]
            }
            // Claimed: its next check is one new interval on, not one old interval.
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM cluster_health WHERE cluster = 'hc-a' AND next_check_at < now() + interval '10 minutes'") == 1)
        }
    }

    @Test("a worker whose lease ran out cannot record over the worker that claimed after it")
    func staleClaimRefused() async throws {
        try await TestDatabase.with { db in
            try await addCluster(db, "hc-a")
            let client = db.client(WorkflowRegistry())
            let candidate = [ClusterHealthCandidate(cluster: "hc-a", interval: .seconds(60))]
            let first = try #require(try await client.claimHealthChecks(candidate, worker: "worker:slow", lease: .seconds(10)).first)
            // Its lease and the interval pass without a result.
            try await db.store.client.query("UPDATE cluster_health SET next_check_at = now() - interval '1 s', lease_until = now() - interval '1 s'", logger: db.logger)
            let second = try #require(try await client.claimHealthChecks(candidate, worker: "worker:fast", lease: .seconds(10)).first)
            #expect(second.token != first.token)
            #expect(try await client.recordHealthCheck(result("hc-a", by: "worker:fast", passed: true), claim: second))
            #expect(try await client.recordHealthCheck(result("hc-a", by: "worker:slow", passed: false), claim: first) == false)
            let health = try #require(try await client.clusterHealth(cluster: "hc-a"))
            #expect(health.latest.checkedBy == "worker:fast" && health.latest.passed)
            #expect(try await client.clusterHealthHistory(cluster: "hc-a").count == 1)
        }
    }

    @Test("the latest result keeps its last change; history older than the retention is deleted when a result is recorded")
    func changesAndRetention() async throws {
        try await TestDatabase.with { db in
            try await addCluster(db, "hc-a")
            let client = db.client(WorkflowRegistry())
            let candidate = [ClusterHealthCandidate(cluster: "hc-a", interval: .seconds(60))]
            func check(passed: Bool) async throws {
                try await db.store.client.query("UPDATE cluster_health SET next_check_at = now() - interval '1 s'", logger: db.logger)
                let claim = try #require(try await client.claimHealthChecks(candidate, worker: "worker:w", lease: .seconds(10)).first)
                #expect(try await client.recordHealthCheck(result("hc-a", by: "worker:w", passed: passed), claim: claim, retention: .seconds(3600)))
            }
            try await check(passed: true)
            let first = try #require(try await client.clusterHealth(cluster: "hc-a"))
            #expect(first.status == "up" && first.previousStatus == nil)
            try await check(passed: true)
            let same = try #require(try await client.clusterHealth(cluster: "hc-a"))
            #expect(same.statusSince == first.statusSince && same.previousStatus == nil, "no change, no new status time")
            try await check(passed: false)
            let changed = try #require(try await client.clusterHealth(cluster: "hc-a"))
            #expect(changed.status == "failing: etcd" && changed.previousStatus == "up")
            #expect(changed.statusSince > first.statusSince)
            #expect(changed.latest.checks == [ClusterHealthCheck(name: "etcd", ok: false, detail: "failed: reason withheld")])
            #expect(try await client.clusterHealthHistory(cluster: "hc-a").map(\.passed) == [false, true, true])
            // Two of them age past the retention: the next result deletes them.
            try await db.store.client.query("""
                UPDATE cluster_health_checks SET checked_at = checked_at - interval '2 hours'
                WHERE id IN (SELECT id FROM cluster_health_checks ORDER BY id LIMIT 2)
                """, logger: db.logger)
            try await check(passed: true)
            #expect(try await client.clusterHealthHistory(cluster: "hc-a").map(\.passed) == [true, false])
            #expect(try await client.clusterHealth().map(\.cluster) == ["hc-a"])
            // A deleted cluster leaves the list (and /metrics), but `cluster show` still finds its last result.
            try await ClusterInventory(store: db.store).setState("hc-a", state: .deleted, runID: nil)
            #expect(try await client.clusterHealth().isEmpty)
            #expect(try await client.clusterHealth(cluster: "hc-a") != nil)
        }
    }
}

/// End to end on the simulator: real PostgreSQL, the simulator's TLS kube-apiserver stand-in, the real sshd
/// with the simulated node tools, an in-process worker pool provisioning, and two checkers.
@Suite("API health checks on the simulator, end to end", .serialized, .timeLimit(.minutes(5)), .needsDatabaseAndSSHD)
struct HealthCheckTests {
    static let vipEndpoint = "192.168.100.10:6443"

    @Test("a provisioned cluster: CA pinned from admin.conf, up 1 with every check ok; etcd broken and healed; down; a wrong CA")
    func endToEnd() async throws {
        try await ClusterTestEnvironment.with { env in
            let record = try await env.provisionHealthChecked(name: "hc-a")
            #expect(record.state == "ready")
            let standIn = try #require(env.simulator.apiServer(Self.vipEndpoint), "kubeadm init registered the VIP with the simulator")
            let pinned = try await env.services.inventory.pinnedCA("hc-a")
            #expect(pinned == standIn.caCertificate, "the CA pinned at provision is the one admin.conf carries: the stand-in's")
            let runID = try #require(record.lastRunID)
            let detail = try #require(try await env.store.runDetail(id: runID))
            #expect(detail.steps.contains { $0.name == "record-api-ca" && $0.state == .succeeded })
            #expect(detail.steps.first { $0.name == "record-api-ca" }?.result?.contains("BEGIN CERTIFICATE") == false, "the step keeps a hash, not the CA")

            let clock = ContinuousClock()
            let started = clock.now
            try await env.withHealthCheckers {
                // 1. Healthy: up 1, every check ok.
                try await eventually("hc-a is checked and up", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.passed == true
                }
                let healthy = try #require(try await env.latestHealth("hc-a"))
                #expect(healthy.latest.up && healthy.latest.httpStatus == 200 && healthy.status == "up")
                #expect(healthy.latest.checks.map(\.name) == SakuraSimulator.apiServerReadyzChecks && healthy.latest.checks.allSatisfy { $0.ok })
                #expect(healthy.latest.checks.contains { $0.name == "etcd" && $0.detail == "ok" })
                var metrics = try await ClusterHealthMetrics.render(client: env.client)
                #expect(metrics.contains("kaji_cluster_apiserver_up{cluster=\"hc-a\"} 1\n"))
                #expect(metrics.contains("kaji_cluster_readyz_check_ok{cluster=\"hc-a\",check=\"etcd\"} 1\n"))

                // 2. etcd broken through the simulator's switch: the stored check goes to failed.
                try env.simulator.setAPICheck("etcd", failing: true)
                try await eventually("etcd is stored as failed", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.checks.first { $0.name == "etcd" }?.ok == false
                }
                let broken = try #require(try await env.latestHealth("hc-a"))
                #expect(broken.latest.up && !broken.latest.passed && broken.latest.httpStatus == 500)
                #expect(broken.latest.checks.first { $0.name == "etcd" }?.detail == "failed: reason withheld")
                #expect(broken.latest.checks.filter { !$0.ok }.map(\.name) == ["etcd"])
                #expect(broken.status == "failing: etcd" && broken.previousStatus == "up")
                metrics = try await ClusterHealthMetrics.render(client: env.client)
                #expect(metrics.contains("kaji_cluster_readyz_check_ok{cluster=\"hc-a\",check=\"etcd\"} 0\n"))
                #expect(metrics.contains("kaji_cluster_apiserver_up{cluster=\"hc-a\"} 1\n"))

                // 3. Healed: it returns.
                try env.simulator.setAPICheck("etcd", failing: false)
                try await eventually("etcd is stored as ok again", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.passed == true
                }
                #expect(try await env.latestHealth("hc-a")?.previousStatus == "failing: etcd")

                // 4. The endpoint down: up 0 with a connect reason; back up, up 1.
                try await env.simulator.setAPIServer(.down, endpoint: Self.vipEndpoint)
                // A check in flight while the stand-in shuts down may time out first; once it is down, every
                // check is refused.
                try await eventually("hc-a is stored as down with a connect reason", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.failure == .connect
                }
                let down = try #require(try await env.latestHealth("hc-a"))
                #expect(down.latest.failure == .connect, "\(down.latest.reason ?? "")")
                #expect(down.latest.reason?.hasPrefix("connect: ") == true, "\(down.latest.reason ?? "")")
                #expect(down.latest.checks.isEmpty && down.status == "down: connect")
                metrics = try await ClusterHealthMetrics.render(client: env.client)
                #expect(metrics.contains("kaji_cluster_apiserver_up{cluster=\"hc-a\"} 0\n"))
                try await env.simulator.setAPIServer(.up, endpoint: Self.vipEndpoint)
                try await eventually("hc-a is up again", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.passed == true
                }

                // 5. A wrong CA pinned (another cluster's): up 0 with a TLS reason.
                let other = try await env.simulator.registerAPIServer(endpoint: "10.99.0.10:6443")
                try await env.services.inventory.pinCA("hc-a", pem: other.caCertificate)
                try await eventually("hc-a is stored as down for TLS", timeout: .seconds(60)) {
                    try await env.latestHealth("hc-a")?.latest.failure == .tls
                }
                let tls = try #require(try await env.latestHealth("hc-a"))
                #expect(!tls.latest.up && tls.latest.reason?.hasPrefix("tls: ") == true, "\(tls.latest.reason ?? "")")
                #expect(tls.status == "down: tls")
            }
            // Two checkers on one cluster: each claim moves its next check one interval (1 s) on, so however the
            // work was shared there are at most as many results as seconds passed, plus the first.
            let elapsed = clock.now - started
            let history = try await env.client.clusterHealthHistory(cluster: "hc-a", limit: 10_000)
            #expect(!history.isEmpty)
            #expect(Set(history.map(\.checkedBy)).isSubset(of: ["worker:hc-1", "worker:hc-2"]))
            #expect(history.count <= Int(elapsed.components.seconds) + 2, "\(history.count) results in \(elapsed): a duplicate check")
        }
    }
}
