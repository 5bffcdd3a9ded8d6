import Engine
import Foundation
import KajiTesting
import SakuraSimulator
import Testing
import Workflows

/// The dashboard in a real browser: headless Chromium (Debian's `chromium`), driven over the DevTools
/// protocol by a small Python script (`DashboardBrowserTests.driver`) on `--remote-debugging-pipe`.
///
/// The session reaches the browser as a cookie set through the DevTools protocol (`Network.setCookie`)
/// after a real login over HTTP: the login stays a POST of the token, and no token ever travels in a URL
/// (where it would land in the browser's history and in proxies' logs), so the server needs no handoff
/// route just for tests.
@Suite("kaji serve: the dashboard in headless Chromium", .serialized, .timeLimit(.minutes(8)), .needsDatabaseAndSSHD)
struct DashboardBrowserTests {
    static func chromium() throws -> String {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: path) { return path }
        throw KajiTestingError("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium package)")
    }

    /// What the driver answered: the named results and the browser's log.
    struct Outcome: @unchecked Sendable {
        var results: [String: Any]
        var log: [[String: Any]]

        func string(_ name: String) -> String? { results[name] as? String }
        func bool(_ name: String) -> Bool { results[name] as? Bool ?? false }
        /// Log lines that tell of a broken page: a Content-Security-Policy violation or a script error.
        var problems: [String] {
            log.filter { entry in
                let text = (entry["text"] as? String) ?? ""
                return entry["source"] as? String == "javascript" || text.contains("Content Security Policy") || text.contains("Refused to")
            }.map { "\($0)" }
        }
    }

    /// Runs `steps` in a fresh headless Chromium with the session cookie for `baseURL`.
    static func drive(_ baseURL: String, cookie: String, steps: [[String: Any]], timeout: Duration) async throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kaji-dash-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("cdp.py").path
        let planPath = dir.appendingPathComponent("plan.json").path
        try driver.write(toFile: script, atomically: true, encoding: .utf8)
        let plan: [String: Any] = [
            "chromium": try chromium(),
            "cookies": [["name": "kaji_session", "value": cookie, "url": baseURL, "httpOnly": true, "sameSite": "Strict"]],
            "steps": steps,
        ]
        try JSONSerialization.data(withJSONObject: plan).write(to: URL(fileURLWithPath: planPath))
        let run = try await ChildProcess.run("/usr/bin/python3", [script, planPath], timeout: timeout)
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard let answer = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            throw KajiTestingError("the Chromium driver said nothing readable: \(run)")
        }
        if let error = answer["error"] as? String {
            throw KajiTestingError("the Chromium driver failed: \(error); results: \(answer["results"] ?? [:]); stderr: \(run.stderr.suffix(2000))")
        }
        return Outcome(results: answer["results"] as? [String: Any] ?? [:], log: answer["log"] as? [[String: Any]] ?? [])
    }

    /// Every bar of the page: step, kind, attempt, outcome.
    static let barsExpression = """
        JSON.stringify(Array.from(document.querySelectorAll('svg.timeline rect.bar')).map(function (r) {
          return [r.getAttribute('data-step'), r.getAttribute('data-kind'), r.getAttribute('data-attempt') || '', r.getAttribute('data-outcome')].join('|');
        }))
        """

    @Test("a provision with retries and waits: approved from its run page in Chromium, the page follows it live to the end, its timeline holds one bar per step attempt and per wait; the pages fit 320 px")
    func provisionInChromium() async throws {
        _ = try Self.chromium()
        // The cloud is busy for longer than the client retries a call: the step fails once, and is retried.
        let faults = try FaultRule.parseList("POST /switch=busy,times=8")
        try await ClusterTestEnvironment.with(faults: faults) { env in
            let serve = try await KajiServe.start(on: env.database)
            do {
                try await exercise(env, serve)
            } catch {
                _ = try? await serve.stop()
                throw error
            }
            _ = try? await serve.stop()
        }
    }

    func exercise(_ env: ClusterTestEnvironment, _ serve: KajiServe) async throws {
        let bob = try await env.client.createToken(name: "bob", role: .approver, actor: "test").token
        let name = "dash-b"
        let spec = testClusterSpec(name: name, masters: 1, workers: 2)
        let pool = env.startPool()
        defer { pool.pool.shutdown() }
        let id = try await env.client.enqueue(EnqueueRequest(kind: ClusterKinds.provision, input: try KajiJSON.string(ProvisionInput(spec: spec)),
                                                             concurrencyKey: spec.concurrencyKey, actor: "token:alice")).id
        try await env.waitForApproval(id)
        let visitor = try await DashboardVisitor.login(serve.baseURL, token: bob)
        let cookie = try #require(visitor.cookie)
        let runPath = "/runs/\(id.uuidString.lowercased())"

        let live = try await Self.drive(serve.baseURL, cookie: cookie, steps: [
            ["op": "viewport", "width": 1280, "height": 900],
            ["op": "goto", "url": serve.baseURL + runPath],
            ["op": "eval", "name": "buttons", "expr": "Array.from(document.querySelectorAll('.actions button')).map(function (b) { return b.textContent; }).join(',')"],
            ["op": "eval", "name": "awaiting", "expr": "document.body.textContent.indexOf('waiting for approval') >= 0"],
            ["op": "submit", "expr": "document.querySelector('form[action$=\"/approve\"] input[name=reason]').value = 'from chromium'; document.querySelector('form[action$=\"/approve\"] button').click()"],
            ["op": "eval", "name": "flash", "expr": "(document.querySelector('.flash.ok') || {}).textContent || ''"],
            ["op": "eval", "name": "following", "expr": "document.getElementById('live').getAttribute('data-events') || ''"],
            // A mark on the window: gone if the page were loaded again instead of updated in place.
            ["op": "eval", "name": "marked", "expr": "window.kajiMark = 42"],
            ["op": "wait", "name": "state", "timeout": 240,
             "expr": "(function (s) { return ['succeeded', 'failed', 'cancelled'].indexOf(s) >= 0 ? s : ''; })(document.getElementById('live').getAttribute('data-state'))"],
            ["op": "eval", "name": "inPlace", "expr": "window.kajiMark === 42"],
            ["op": "eval", "name": "bars", "expr": Self.barsExpression],
            ["op": "eval", "name": "legend", "expr": "document.querySelectorAll('ul.legend li').length"],
            ["op": "screenshot", "name": "desktop", "path": FileManager.default.temporaryDirectory.appendingPathComponent("kaji-dashboard-run.png").path],
        ], timeout: .seconds(330))

        #expect(live.string("buttons") == "Approve,Reject,Cancel", "an approver's buttons on a run waiting for approval: \(live.results)")
        #expect(live.bool("awaiting"))
        #expect(live.string("flash")?.contains("Approved by token:bob.") == true, "\(live.results)")
        #expect(live.string("following") == runPath + "/events", "the page follows the run's events")
        let finished = try await env.waitForFinish(id)
        #expect(finished.state == .succeeded, "\(finished.lastError ?? "")")
        #expect(live.string("state") == "succeeded", "the page showed the end without a reload")
        #expect(live.bool("inPlace"), "updated in place by the event stream, not reloaded")
        #expect(live.problems.isEmpty, "\(live.problems)")

        // One bar per step attempt, one per wait, and nothing else.
        let detail = try await env.client.run(id: id)
        var expected: [String] = []
        for step in detail.steps {
            for attempt in step.history { expected.append([step.name, "attempt", String(attempt.attempt), attempt.outcome].joined(separator: "|")) }
            if step.wait != nil { expected.append([step.name, "wait", "", step.state == .failed ? "failed" : "succeeded"].joined(separator: "|")) }
        }
        let drawn = try JSONSerialization.jsonObject(with: Data((live.string("bars") ?? "[]").utf8)) as? [String] ?? []
        #expect(drawn.sorted() == expected.sorted(), "drawn: \(drawn.count), recorded: \(expected.count); missing \(Set(expected).subtracting(drawn)); extra \(Set(drawn).subtracting(expected))")
        #expect(drawn.count == Set(drawn).count, "no bar twice")
        #expect(detail.steps.contains { $0.history.count > 1 }, "a step was retried: \(detail.steps.map { "\($0.name)×\($0.history.count)" })")
        #expect(drawn.contains { $0.hasPrefix("approval|wait|") }, "the approval's durable wait")
        #expect(drawn.filter { $0.contains("|wait|") }.count >= 2, "and the polled waits")
        #expect(drawn.contains { $0.hasSuffix("|failed") }, "a failed attempt, drawn apart")
        // Parallel node steps: the servers of different nodes were created at the same time.
        let creates = detail.steps.filter { $0.name.hasPrefix("create-server:") }.compactMap { step in step.history.last.map { ($0.startedAt, $0.finishedAt) } }
        #expect(creates.count == 3)
        #expect(creates.contains { a in creates.contains { b in a.0 < b.0 && b.0 < a.1 } }, "at least two overlap in time")
        #expect((live.results["legend"] as? Int ?? 0) >= 4)

        // Health results as a worker records them, for the cluster's page.
        for passed in [true, false] {
            var claim: ClusterHealthClaim?
            try await eventually("the check is due") {
                claim = try await env.client.claimHealthChecks([ClusterHealthCandidate(cluster: name, interval: .milliseconds(100))], worker: "worker:w1", lease: .seconds(5)).first
                return claim != nil
            }
            let result = ClusterHealthResult(cluster: name, checkedBy: "worker:w1", up: true, passed: passed, failure: nil, reason: passed ? nil : "readyz check failed: etcd",
                                             httpStatus: passed ? 200 : 500, durationSeconds: 0.01,
                                             checks: [ClusterHealthCheck(name: "ping", ok: true, detail: "ok"), ClusterHealthCheck(name: "etcd", ok: passed, detail: passed ? "ok" : "failed: reason withheld")])
            #expect(try await env.client.recordHealthCheck(result, claim: try #require(claim)))
        }

        // Every page at 320 px: nothing wider than the screen (wide tables and charts scroll in their own box).
        let pages = [runPath, "/runs", "/clusters", "/clusters/\(name)", "/audit"]
        var steps: [[String: Any]] = [["op": "viewport", "width": 320, "height": 800, "mobile": true]]
        for (index, path) in pages.enumerated() {
            steps.append(["op": "goto", "url": serve.baseURL + path])
            steps.append(["op": "eval", "name": "fits\(index)",
                          "expr": "window.innerWidth === 320 && document.documentElement.scrollWidth <= window.innerWidth ? 'ok' : ('width ' + window.innerWidth + ', content ' + document.documentElement.scrollWidth)"])
        }
        steps.append(["op": "goto", "url": serve.baseURL + "/clusters/\(name)"])
        steps.append(["op": "eval", "name": "cells", "expr": "document.querySelectorAll('svg.health rect.cell[data-check=\"etcd\"]').length"])
        steps.append(["op": "eval", "name": "nodes", "expr": "Array.from(document.querySelectorAll('tr[data-node] code')).map(function (c) { return c.textContent; }).join(',')"])
        steps.append(["op": "goto", "url": serve.baseURL + runPath])
        steps.append(["op": "eval", "name": "narrowBars", "expr": "document.querySelectorAll('svg.timeline rect.bar').length"])
        steps.append(["op": "screenshot", "name": "narrow", "path": FileManager.default.temporaryDirectory.appendingPathComponent("kaji-dashboard-run-320.png").path])
        // Pictures for people (not checked): the cluster's and the audit page on a desktop.
        steps.append(["op": "viewport", "width": 1280, "height": 1000])
        for page in ["cluster": "/clusters/\(name)", "audit": "/audit", "runs": "/runs"].sorted(by: { $0.key < $1.key }) {
            steps.append(["op": "goto", "url": serve.baseURL + page.value])
            steps.append(["op": "screenshot", "name": page.key, "path": FileManager.default.temporaryDirectory.appendingPathComponent("kaji-dashboard-\(page.key).png").path])
        }
        let narrow = try await Self.drive(serve.baseURL, cookie: cookie, steps: steps, timeout: .seconds(120))
        for (index, path) in pages.enumerated() {
            #expect(narrow.string("fits\(index)") == "ok", "\(path) at 320 px: \(narrow.string("fits\(index)") ?? "-")")
        }
        #expect(narrow.results["cells"] as? Int == 2, "etcd's health over time: \(narrow.results)")
        #expect(narrow.string("nodes")?.contains("192.168.100.11") == true, "\(narrow.results)")
        #expect(narrow.results["narrowBars"] as? Int == expected.count)
        #expect(narrow.problems.isEmpty, "\(narrow.problems)")
        try await pool.stop()
    }

    /// The DevTools driver: headless Chromium on a pipe (`--remote-debugging-pipe`: commands on fd 3,
    /// answers on fd 4, NUL-terminated JSON), so no WebSocket library is needed. It reads a plan (JSON) from
    /// the file named by its argument and prints one JSON object: the named results and the browser's log.
    static let driver = #"""
import fcntl, json, os, select, shutil, subprocess, sys, tempfile, time


class Chrome:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="kaji-chromium-")
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        # Copies above the low numbers, so that moving them onto 3 and 4 in the child cannot clobber each other.
        child_in = fcntl.fcntl(to_read, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_write, fcntl.F_DUPFD, 10)

        def in_child():
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.stderr = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-sync", "--disable-component-update", "--mute-audio", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr, close_fds=False, preexec_fn=in_child)
        for fd in (to_read, from_write, child_in, child_out):
            os.close(fd)
        self.writer = to_write
        self.reader = from_read
        self.buffer = b""
        self.next_id = 0
        self.pending = []
        self.log = []

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def receive(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium in time")
            ready, _, _ = select.select([self.reader], [], [], left)
            if ready:
                chunk = os.read(self.reader, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed its pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        message = json.loads(message)
        if message.get("method") == "Log.entryAdded":
            entry = message["params"]["entry"]
            self.log.append({"level": entry.get("level"), "source": entry.get("source"), "text": entry.get("text"), "url": entry.get("url")})
        elif message.get("method") == "Runtime.exceptionThrown":
            details = message["params"]["exceptionDetails"]
            self.log.append({"level": "error", "source": "javascript", "text": json.dumps(details.get("exception", {}).get("description") or details.get("text")), "url": details.get("url")})
        return message

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        ident = self.next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            answer = self.receive(deadline)
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(method + ": " + json.dumps(answer["error"]))
                return answer.get("result", {})
            if "method" in answer:
                self.pending.append(answer)

    def wait_for(self, method, session, timeout):
        deadline = time.time() + timeout
        for index, event in enumerate(self.pending):
            if event.get("method") == method and event.get("sessionId") == session:
                del self.pending[index]
                return event
        while True:
            event = self.receive(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            if "method" in event:
                self.pending.append(event)

    def forget(self, method):
        self.pending = [e for e in self.pending if e.get("method") != method]


def evaluate(chrome, session, expression, timeout=30):
    result = chrome.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session, timeout)
    if "exceptionDetails" in result:
        raise RuntimeError("evaluating %s: %s" % (expression[:200], json.dumps(result["exceptionDetails"])[:1000]))
    return result.get("result", {}).get("value")


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    chrome = Chrome(plan["chromium"])
    results = {}
    try:
        target = chrome.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = chrome.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            chrome.call(domain + ".enable", {}, session)
        for cookie in plan.get("cookies", []):
            ok = chrome.call("Network.setCookie", cookie, session)
            if not ok.get("success", True):
                raise RuntimeError("cookie refused: " + cookie["name"])
        for step in plan["steps"]:
            op = step["op"]
            if op == "viewport":
                chrome.call("Emulation.setDeviceMetricsOverride",
                            {"width": step["width"], "height": step["height"], "deviceScaleFactor": 1, "mobile": step.get("mobile", False)}, session)
            elif op == "goto":
                chrome.forget("Page.loadEventFired")
                chrome.call("Page.navigate", {"url": step["url"]}, session)
                chrome.wait_for("Page.loadEventFired", session, step.get("timeout", 30))
            elif op == "submit":
                # An expression that submits a form (a click): wait for the page it leads to.
                chrome.forget("Page.loadEventFired")
                evaluate(chrome, session, step["expr"])
                chrome.wait_for("Page.loadEventFired", session, step.get("timeout", 30))
            elif op == "eval":
                results[step["name"]] = evaluate(chrome, session, step["expr"])
            elif op == "wait":
                deadline = time.time() + step.get("timeout", 30)
                value = None
                while time.time() < deadline:
                    value = evaluate(chrome, session, step["expr"])
                    if value:
                        break
                    time.sleep(0.25)
                results[step["name"]] = value
                if not value:
                    raise TimeoutError("waited %s s for %s" % (step.get("timeout", 30), step["expr"][:200]))
            elif op == "screenshot":
                import base64
                shot = chrome.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": step.get("full", False)}, session)
                with open(step["path"], "wb") as out:
                    out.write(base64.b64decode(shot["data"]))
                results[step["name"]] = os.path.getsize(step["path"])
            else:
                raise ValueError("unknown op " + op)
        print(json.dumps({"results": results, "log": chrome.log}))
    except Exception as error:
        print(json.dumps({"results": results, "log": chrome.log, "error": "%s: %s" % (type(error).__name__, error)}))
        sys.exit(1)
    finally:
        chrome.close()


main()
"""#
}
