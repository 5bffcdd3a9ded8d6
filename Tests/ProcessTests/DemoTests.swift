import AsyncHTTPClient
import Engine
import Foundation
import KajiTesting
import NIOCore
import PostgresNIO
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("kaji demo", .timeLimit(.minutes(5)))
struct DemoTests {
    @Test("the demo runs diag workflows on worker processes and prints each run's step history", .needsDatabase)
    func demoOnGivenDatabase() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let result = try await KajiProcess.run(["demo", "--workflow", "diag", "--runs", "3", "--steps", "2"] + db.cliArguments, timeout: .seconds(120))
            #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
            #expect(result.stdout.contains("demo finished: 3 runs succeeded"))
            #expect(result.stdout.contains("progress: 3/3 runs finished, 6/6 steps"))
            #expect(result.stdout.contains("step-2"))
            #expect(result.stdout.contains("run.succeeded"))
            // The run that fails its first attempts shows them in its history.
            #expect(result.stdout.contains("injected failure: attempt 1"))
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE state = 'succeeded'") == 3)
            // It named the server it started and a viewer token, which the database knows as a viewer's.
            let url = try #require(DemoOutput.serverURL(result.stdout), "\(DemoOutput.redacted(result.stdout.suffix(2000)))")
            #expect(url.hasPrefix("http://127.0.0.1:"))
            let token = try #require(DemoOutput.viewerToken(result.stdout), "\(DemoOutput.redacted(result.stdout.suffix(2000)))")
            let principal = try await KajiClient(store: db.store, catalog: .diagnostics).authenticate(token: token)
            #expect(principal.role == .viewer && principal.actor == "token:demo-viewer")
            #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'token.created'") == 1)
            // Everything it started is gone.
            let pids = DemoOutput.pids(result.stdout + result.stderr)
            #expect(pids.count == 3, "the server and two workers: \(pids)")
            for pid in pids { #expect(!DemoOutput.isRunning(pid), "process \(pid) outlived the demo") }
        }
    }

    @Test("the cluster demo provisions examples/demo.yaml through kaji serve (alice applies, bob approves), and --serve keeps it all running until SIGTERM", .needsDatabase)
    func clusterDemoServe() async throws {
        try await TestDatabase.with(migrate: false) { db in
            let demo = try KajiProcess(["demo", "--serve"] + db.cliArguments, environment: ["KAJI_LOG_LEVEL": "warning"])
            do {
                try await eventually("the demo serves", timeout: .seconds(240), every: .milliseconds(200)) {
                    guard demo.isRunning else { throw KajiTestingError("the demo exited: \(DemoOutput.redacted(demo.stdout.suffix(3000))) \(demo.stderr.suffix(2000))") }
                    return demo.stdout.contains("serving on ")
                }
                let stdout = demo.stdout
                #expect(stdout.contains("token:alice applies"), "\(DemoOutput.redacted(stdout.suffix(3000)))")
                #expect(stdout.contains("token:bob approves run"))
                #expect(stdout.contains("kubeadm-init:demo-master-1"))
                #expect(stdout.contains("cluster demo provisioned, 5 nodes (3 control-plane), 5 servers, 5 disks, 1 switch"))
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM clusters WHERE name = 'demo' AND state = 'ready'") == 1)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM runs WHERE kind = 'cluster.provision' AND state = 'succeeded'") == 1)
                // The approval is bob's token, not the database-direct CLI.
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'signal.sent' AND actor = 'token:bob'") == 1)
                #expect(try await db.scalarInt("SELECT count(*)::int8 FROM audit_events WHERE type = 'run.enqueued' AND actor = 'token:alice'") == 1)

                // The server it printed answers the viewer token it printed, as a viewer.
                let url = try #require(DemoOutput.serverURL(stdout))
                #expect(url.hasPrefix("http://127.0.0.1:"))
                let token = try #require(DemoOutput.viewerToken(stdout))
                var request = HTTPClientRequest(url: url + "/api/v1/whoami")
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status.code == 200)
                let whoami = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
                #expect(whoami?["role"] as? String == "viewer", "\(String(describing: whoami))")
                #expect(whoami?["actor"] as? String == "token:demo-viewer")

                // The dashboard's page of the provision draws its timeline: one bar per step attempt (each one
                // the database recorded, none more), a bar per durable wait, nothing still running.
                let provision = try #require(try await db.store.listRuns(state: nil, kind: "cluster.provision", limit: 5).first?.id)
                var attempts: [String] = []
                for try await (step, attempt) in try await db.store.client.query(
                    "SELECT step, attempt::int8 FROM step_attempts WHERE run_id = \(provision) ORDER BY step, attempt", logger: db.logger
                ).decode((String, Int).self) { attempts.append("\(step)#\(attempt)") }
                let waits = try await db.scalarInt("SELECT count(*)::int8 FROM steps WHERE run_id = \(provision) AND wait IS NOT NULL AND started_at IS NOT NULL")
                let page = try await DemoOutput.dashboardPage(url, token: token, path: "/runs/\(provision.uuidString.lowercased())")
                let bars = DemoOutput.bars(page)
                #expect(attempts.count >= 20, "a provision of five nodes has many steps: \(attempts.count)")
                #expect(bars.filter { $0.kind == "attempt" }.map { "\($0.step)#\($0.attempt.map(String.init) ?? "?")" }.sorted() == attempts.sorted())
                #expect(bars.filter { $0.kind == "wait" }.count == waits)
                #expect(bars.allSatisfy { $0.kind != "running" })

                let pids = DemoOutput.pids(stdout + demo.stderr)
                #expect(pids.count >= 5, "kaji serve, two workers, sakura-sim and sshd: \(pids)")
                for pid in pids { #expect(DemoOutput.isRunning(pid), "process \(pid) is still serving") }

                let result = try await demo.terminate(timeout: .seconds(90))
                #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
                for pid in pids { #expect(!DemoOutput.isRunning(pid), "process \(pid) outlived the demo") }
            } catch {
                if demo.isRunning { try? await demo.kill() }
                throw error
            }
        }
    }

    @Test("the cluster demo names sakura-sim when it cannot find it, before starting anything")
    func missingSimulator() async throws {
        let result = try await KajiProcess.run(["demo"], environment: ["DATABASE_URL": "", "KAJI_SAKURA_SIM": "/nonexistent/sakura-sim"], timeout: .seconds(60))
        #expect(result.status == 1, "stderr: \(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("KAJI_SAKURA_SIM=/nonexistent/sakura-sim is not an executable file"))
        #expect(!result.stderr.contains("starting a private PostgreSQL"))
    }

    @Test("without a database the demo starts and stops a private PostgreSQL")
    func demoWithPrivateServer() async throws {
        let result = try await KajiProcess.run(["demo", "--workflow", "diag", "--runs", "1", "--steps", "1"], environment: ["DATABASE_URL": ""], timeout: .seconds(120))
        #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
        #expect(result.stderr.contains("starting a private PostgreSQL"))
        #expect(result.stdout.contains("demo finished: 1 runs succeeded"))
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("(data in ") })
        let dir = try #require(line.split(separator: "(data in ").last?.dropLast())
        #expect(!FileManager.default.fileExists(atPath: String(dir)), "the private server's folder is removed")
    }
}

/// Reads what `kaji demo` printed.
enum DemoOutput {
    /// A dashboard page of the demo's server, read by a person who logged in with `token` (plain HTTP, the
    /// session cookie of the login kept, no redirect followed).
    static func dashboardPage(_ baseURL: String, token: String, path: String) async throws -> String {
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))
        do {
            var login = HTTPClientRequest(url: baseURL + "/login")
            login.method = .POST
            login.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            login.body = .bytes(ByteBuffer(string: "token=" + (token.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")))
            let answer = try await http.execute(login, timeout: .seconds(30))
            _ = try await answer.body.collect(upTo: 1 << 20)
            guard answer.status.code == 303,
                  let cookie = answer.headers["Set-Cookie"].first(where: { $0.hasPrefix("kaji_session=") })?.prefix(while: { $0 != ";" }) else {
                throw KajiTestingError("dashboard login failed: \(answer.status)")
            }
            var request = HTTPClientRequest(url: baseURL + path)
            request.headers.add(name: "Cookie", value: String(cookie))
            let response = try await http.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            guard response.status.code == 200 else { throw KajiTestingError("GET \(path): \(response.status)") }
            try await http.shutdown()
            return String(buffer: body)
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// The timeline bars of a dashboard page (`<rect class="bar …" data-step data-kind data-attempt>`).
    static func bars(_ page: String) -> [(step: String, kind: String, attempt: Int?)] {
        func attribute(_ name: String, _ tag: Substring) -> String? {
            guard let range = tag.range(of: " \(name)=\"") else { return nil }
            return String(tag[range.upperBound...].prefix { $0 != "\"" })
        }
        return page.components(separatedBy: "<rect class=\"bar ").dropFirst().map { rest in
            let tag = rest.prefix { $0 != ">" }
            return (attribute("data-step", tag) ?? "", attribute("data-kind", tag) ?? "", attribute("data-attempt", tag).flatMap { Int($0) })
        }
    }

    /// The URL on the `server: URL …` line.
    static func serverURL(_ stdout: String) -> String? { word(after: "server: ", in: stdout) }

    /// The token on the `viewer token: TOKEN …` line.
    static func viewerToken(_ stdout: String) -> String? { word(after: "viewer token: ", in: stdout) }

    private static func word(after prefix: String, in text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return line.dropFirst(prefix.count).split(separator: " ").first.map(String.init)
    }

    /// The process ids the demo named: `pid N` and `pids N M …`.
    static func pids(_ text: String) -> Set<Int32> {
        var found = Set<Int32>()
        for match in text.matches(of: /pids? ((?:\d+ ?)+)/) {
            for number in match.1.split(separator: " ") { if let pid = Int32(number) { found.insert(pid) } }
        }
        return found
    }

    /// Whether the process runs (an exited process not yet reaped, a zombie, does not).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z") && !stat[close...].hasPrefix(") X")
    }

    /// `text` without API tokens (the demo prints one; test output must not).
    static func redacted(_ text: some StringProtocol) -> String {
        String(text).replacing(/kaji_[A-Za-z0-9_-]{20,}/, with: "kaji_<redacted>")
    }
}
