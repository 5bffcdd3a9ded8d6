import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore
import NIOSSL
import Provisioner
import SakuraSimulator
import Testing

/// `/readyz` and `/livez` answers in kube-apiserver's format (its `healthz` package: `[+]NAME ok`,
/// `[-]NAME failed: reason withheld`, `[+]NAME excluded: ok`, then `<endpoint> check passed|failed`).
@Suite("readyz parsing")
struct ReadyzParseTests {
    static let healthy = """
        [+]ping ok
        [+]log ok
        [+]etcd ok
        [+]etcd-readiness ok
        [+]informer-sync ok
        [+]poststarthook/start-apiserver-admission-initializer ok
        [+]poststarthook/generic-apiserver-start-informers ok
        [+]poststarthook/rbac/bootstrap-roles ok
        [+]poststarthook/apiservice-registration-controller ok
        [+]shutdown ok
        readyz check passed

        """

    @Test("a healthy verbose answer: every line a passing check, the verdict passed")
    func healthy() {
        let report = ReadyzReport.parse(Self.healthy)
        #expect(report.checks.count == 10)
        #expect(report.checks.allSatisfy { $0.ok })
        #expect(report.checks.map(\.name).contains("poststarthook/rbac/bootstrap-roles"))
        #expect(report.checks.first == .init(name: "ping", ok: true, detail: "ok"))
        #expect(report.verdict == .init(endpoint: "readyz", passed: true))
        #expect(report.passed)
        #expect(report.failing.isEmpty)
    }

    @Test("one check failing: its [-] line with the withheld reason, the verdict failed")
    func oneFailing() {
        let output = """
            [+]ping ok
            [+]log ok
            [-]etcd failed: reason withheld
            [+]etcd-readiness ok
            [+]shutdown ok
            readyz check failed

            """
        let report = ReadyzReport.parse(output)
        #expect(report.checks.count == 5)
        #expect(report.failing == ["etcd"])
        #expect(report.checks.first { $0.name == "etcd" } == .init(name: "etcd", ok: false, detail: "failed: reason withheld"))
        #expect(report.verdict == .init(endpoint: "readyz", passed: false))
        #expect(!report.passed)
    }

    @Test("livez and healthz verdict lines name their endpoint")
    func livezVerdict() {
        let live = ReadyzReport.parse("[+]ping ok\n[+]log ok\n[+]etcd ok\nlivez check passed\n")
        #expect(live.verdict == .init(endpoint: "livez", passed: true))
        #expect(live.passed)
        let old = ReadyzReport.parse("[+]ping ok\n[-]log failed: reason withheld\nhealthz check failed")
        #expect(old.verdict == .init(endpoint: "healthz", passed: false))
        #expect(old.failing == ["log"])
    }

    @Test("an excluded check counts as passing; warn lines are skipped")
    func excluded() {
        let output = """
            [+]ping ok
            [+]log ok
            [+]etcd excluded: ok
            [+]shutdown ok
            warn: some health checks cannot be excluded: no matches for "nosuch"
            readyz check passed

            """
        let report = ReadyzReport.parse(output)
        #expect(report.checks.count == 4)
        #expect(report.checks.first { $0.name == "etcd" } == .init(name: "etcd", ok: true, detail: "excluded: ok"))
        #expect(report.passed)
    }

    @Test("a plain ok (no verbose) and a body that is no health answer have no verdict")
    func noVerdict() {
        #expect(ReadyzReport.parse("ok").verdict == nil)
        #expect(!ReadyzReport.parse("ok").passed)
        let forbidden = ReadyzReport.parse(#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/readyz\"","code":403}"#)
        #expect(forbidden.verdict == nil && forbidden.checks.isEmpty)
    }

    @Test("a passed verdict with a [-] line is not passing")
    func contradictory() {
        let report = ReadyzReport.parse("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check passed\n")
        #expect(report.verdict?.passed == true)
        #expect(!report.passed)
    }
}

/// The simulator's kube-apiserver stand-in over real TLS, probed by `APIServerProbe` with the CA pinned.
@Suite("API server probe against the simulator's stand-in", .timeLimit(.minutes(2)))
struct APIServerProbeTests {
    let endpoint = "https://192.168.100.10:6443"

    func withStandIn(_ body: (SakuraSimulator, SimAPIServerInfo, APIServerProbe, APIEndpointOverrides) async throws -> Void) async throws {
        try await withSimulator { simulator, _ in
            let info = try await simulator.registerAPIServer(endpoint: "192.168.100.10:6443")
            let probe = APIServerProbe(connectTimeout: .seconds(5))
            let overrides = APIEndpointOverrides.fixed(["192.168.100.10:6443": info.address])
            do {
                try await body(simulator, info, probe, overrides)
            } catch {
                try? await probe.shutdown()
                throw error
            }
            try await probe.shutdown()
        }
    }

    @Test("healthy: HTTP 200, every check [+], up and passed")
    func healthy() async throws {
        try await withStandIn { _, info, probe, overrides in
            let result = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(result.up && result.passed, "\(result.reason ?? "")")
            #expect(result.httpStatus == 200)
            #expect(result.failure == nil && result.reason == nil)
            let report = try #require(result.report)
            #expect(report.checks.count > 10 && report.checks.allSatisfy { $0.ok })
            #expect(report.checks.contains { $0.name == "etcd" })
            #expect(report.verdict == .init(endpoint: "readyz", passed: true))
        }
    }

    @Test("etcd failing: HTTP 500 with [-]etcd failed: reason withheld; up but not passed; healed it passes again")
    func etcdFailing() async throws {
        try await withStandIn { simulator, info, probe, overrides in
            try simulator.setAPICheck("etcd", failing: true)
            let broken = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(broken.up && !broken.passed)
            #expect(broken.httpStatus == 500)
            #expect(broken.report?.failing == ["etcd"])
            #expect(broken.report?.checks.first { $0.name == "etcd" }?.detail == "failed: reason withheld")
            #expect(broken.reason == "readyz check failed: etcd")
            try simulator.setAPICheck("etcd", failing: false)
            let healed = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(healed.passed)
        }
    }

    @Test("a CA that did not sign the server's certificate: no answer, failure tls")
    func wrongCA() async throws {
        try await withStandIn { simulator, _, probe, overrides in
            let other = try await simulator.registerAPIServer(endpoint: "10.0.0.1:6443")
            let result = await probe.readyz(endpoint: endpoint, caPEM: other.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(!result.up)
            #expect(result.failure == .tls, "\(result.reason ?? "")")
            #expect(result.reason?.hasPrefix("tls: ") == true)
            #expect(result.report == nil && result.httpStatus == nil)
        }
    }

    @Test("endpoint down: connection refused, failure connect; back up on the same address it answers again")
    func down() async throws {
        try await withStandIn { simulator, info, probe, overrides in
            try await simulator.setAPIServer(.down)
            let result = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(!result.up)
            #expect(result.failure == .connect, "\(result.reason ?? "")")
            #expect(result.reason?.contains("connection refused") == true, "\(result.reason ?? "")")
            try await simulator.setAPIServer(.up)
            #expect(simulator.apiServer()?.address == info.address)
            let back = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .seconds(10), overrides: overrides)
            #expect(back.passed, "\(back.reason ?? "")")
        }
    }

    @Test("a hanging server: failure timeout after the bound")
    func hang() async throws {
        try await withStandIn { simulator, info, probe, overrides in
            try await simulator.setAPIServer(.hang)
            let result = await probe.readyz(endpoint: endpoint, caPEM: info.caCertificate, timeout: .milliseconds(500), overrides: overrides)
            #expect(result.failure == .timeout, "\(result.reason ?? "")")
            try await simulator.setAPIServer(.up)
        }
    }

    @Test("no CA pinned, a CA that is no certificate, an endpoint that is not https: failure configuration, nothing dialled")
    func configuration() async throws {
        try await withStandIn { _, _, probe, overrides in
            let none = await probe.readyz(endpoint: endpoint, caPEM: nil, timeout: .seconds(5), overrides: overrides)
            #expect(none.failure == .configuration)
            #expect(none.reason?.contains("no CA is pinned") == true)
            let garbage = await probe.readyz(endpoint: endpoint, caPEM: "not a certificate", timeout: .seconds(5), overrides: overrides)
            #expect(garbage.failure == .configuration)
            let bad = await probe.readyz(endpoint: "http://192.168.100.10:6443", caPEM: "x", timeout: .seconds(5), overrides: overrides)
            #expect(bad.failure == .configuration)
        }
    }

    @Test("the stand-in answers /livez, ?exclude and single checks as kube-apiserver does")
    func formats() async throws {
        try await withStandIn { simulator, info, _, _ in
            try simulator.setAPICheck("etcd", failing: true)
            let answer = try await StandInHTTP.get(info, path: "/readyz?exclude=etcd&verbose")
            #expect(answer.status == 200)
            #expect(answer.body.contains("[+]etcd excluded: ok\n"))
            #expect(answer.body.hasSuffix("readyz check passed\n"))
            let quiet = try await StandInHTTP.get(info, path: "/readyz")
            #expect(quiet.status == 500 && quiet.body.contains("[-]etcd failed: reason withheld\n") && quiet.body.hasSuffix("readyz check failed\n"),
                    "the list is printed on failure even without verbose")
            let single = try await StandInHTTP.get(info, path: "/readyz/etcd")
            #expect(single.status == 500)
            try simulator.setAPICheck("etcd", failing: false)
            let live = try await StandInHTTP.get(info, path: "/livez?verbose")
            #expect(live.status == 200 && live.body.hasSuffix("livez check passed\n") && !live.body.contains("[+]shutdown"))
            #expect(try await StandInHTTP.get(info, path: "/readyz").body == "ok")
        }
    }
}

/// Plain GETs to a stand-in, trusting its CA.
enum StandInHTTP {
    static func get(_ info: SimAPIServerInfo, path: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: "https://\(info.address)\(path)")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(info.caCertificate.utf8)))
        request.tlsConfiguration = tls
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }
}
