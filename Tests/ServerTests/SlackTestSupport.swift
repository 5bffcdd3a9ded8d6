import AsyncHTTPClient
import Engine
import Foundation
import Hummingbird
import KajiTesting
import Logging
import NIOCore
import NIOHTTP1
import Server
import ServiceLifecycle
import Synchronization

/// Slack as the tests play it: signed requests made with Slack's algorithm, from team T1.
enum SlackTest {
    static let secret = "test-signing-secret-0123456789"
    static let team = "T1"

    /// `application/x-www-form-urlencoded`, as Slack sends it.
    static func form(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
    }

    /// The fields of a `/kaji TEXT` slash command.
    static func command(_ text: String, user: String, trigger: String, responseURL: String, team: String = team) -> String {
        form([("token", "legacy-token-not-used"), ("team_id", team), ("team_domain", "kaji-test"), ("channel_id", "C1"), ("channel_name", "ops"),
              ("user_id", user), ("user_name", user.lowercased()), ("command", "/kaji"), ("text", text),
              ("response_url", responseURL), ("trigger_id", trigger), ("api_app_id", "A1")])
    }

    /// The form of a `block_actions` interaction: `user` pressed the button `actionID` (`kaji.approve:RUN`).
    static func press(_ actionID: String, run: UUID, user: String, trigger: String, responseURL: String, team: String = team) -> String {
        let payload: [String: Any] = [
            "type": "block_actions", "trigger_id": trigger, "response_url": responseURL, "api_app_id": "A1",
            "user": ["id": user, "username": user.lowercased(), "team_id": team], "team": ["id": team, "domain": "kaji-test"],
            "channel": ["id": "C1", "name": "ops"], "container": ["type": "message", "channel_id": "C1"],
            "actions": [["type": "button", "action_id": actionID, "block_id": "kaji.approval:\(run.uuidString.lowercased())",
                         "value": run.uuidString.lowercased(), "action_ts": "1700000000.\(Int.random(in: 100_000...999_999))"]],
        ]
        let json = String(decoding: (try? JSONSerialization.data(withJSONObject: payload)) ?? Data(), as: UTF8.self)
        return form([("payload", json)])
    }

    /// The first run id (a lowercase UUID) in `text`.
    static func runID(in text: String) -> UUID? {
        guard let range = text.range(of: #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#, options: .regularExpression) else { return nil }
        return UUID(uuidString: String(text[range]))
    }
}

/// An HTTP answer: status and body.
struct SlackReply: Sendable {
    let status: Int
    let body: String

    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var text: String { object["text"] as? String ?? "" }
}

/// A `kaji serve` process with Slack configured, on the schema of `db`.
struct SlackServe: Sendable {
    let process: KajiProcess
    let baseURL: String

    /// Starts `kaji serve --listen 127.0.0.1:0` on `db`'s schema with `environment`, and waits until it listens.
    static func start(_ db: TestDatabase, environment: [String: String], arguments: [String] = []) async throws -> SlackServe {
        let process = try KajiProcess(["serve", "--listen", "127.0.0.1:0"] + db.cliArguments + arguments, environment: environment)
        let prefix = "kaji serve listening on "
        var url: String?
        do {
            try await eventually("kaji serve listens", timeout: .seconds(60)) {
                if let line = process.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                    url = String(line.dropFirst(prefix.count))
                    return true
                }
                guard process.isRunning else { throw KajiTestingError("kaji serve exited: \(process.stderr.suffix(2000))") }
                return false
            }
        } catch {
            _ = try? await process.kill()
            throw error
        }
        return SlackServe(process: process, baseURL: url ?? "")
    }

    /// Runs `body` with a serve started as `start` does; stops it afterwards.
    static func with<T: Sendable>(_ db: TestDatabase, environment: [String: String], arguments: [String] = [],
                                  _ body: (SlackServe) async throws -> T) async throws -> T {
        let serve = try await start(db, environment: environment, arguments: arguments)
        do {
            let value = try await body(serve)
            await serve.stop()
            return value
        } catch {
            await serve.stop()
            throw error
        }
    }

    /// The environment of a serve whose Slack users are `users` (`USER=role`, team T1).
    static func environment(users: [String: String], extra: [String: String] = [:]) -> [String: String] {
        let list = users.map { "\(SlackTest.team)/\($0.key)=\($0.value)" }.sorted().joined(separator: ",")
        return ["KAJI_SLACK_SIGNING_SECRET": SlackTest.secret, "KAJI_SLACK_USERS": list, "KAJI_SLACK_POLL_MS": "100"]
            .merging(extra) { _, new in new }
    }

    /// SIGTERM and wait.
    func stop() async {
        _ = try? await process.terminate(timeout: .seconds(30))
    }

    /// A POST of `body` signed as Slack signs it (or with the given `signature`/`secret`/`timestamp`;
    /// `headers: false` sends neither Slack header).
    func post(_ path: String, body: String, timestamp: Date = Date(), secret: String = SlackTest.secret, signature: String? = nil,
              sendTimestamp: Bool = true, sendSignature: Bool = true) async throws -> SlackReply {
        let ts = String(Int(timestamp.timeIntervalSince1970))
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if sendTimestamp { request.headers.add(name: "X-Slack-Request-Timestamp", value: ts) }
        if sendSignature {
            request.headers.add(name: "X-Slack-Signature", value: signature ?? SlackSignature.sign(secret: secret, timestamp: ts, body: Data(body.utf8)))
        }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 1 << 20)
        return SlackReply(status: Int(response.status.code), body: String(buffer: buffer))
    }

    /// `/kaji TEXT` from `user`.
    func command(_ text: String, user: String, trigger: String, responseURL: String) async throws -> SlackReply {
        try await post("/slack/commands", body: SlackTest.command(text, user: user, trigger: trigger, responseURL: responseURL))
    }

    /// `user` presses Approve (or Reject) on the approval message of `run`.
    func press(approve: Bool, run: UUID, user: String, trigger: String, responseURL: String) async throws -> SlackReply {
        let action = (approve ? "kaji.approve:" : "kaji.reject:") + run.uuidString.lowercased()
        return try await post("/slack/interactions", body: SlackTest.press(action, run: run, user: user, trigger: trigger, responseURL: responseURL))
    }
}

/// A local HTTP listener on 127.0.0.1 standing in for Slack's `response_url`s and incoming webhook: it
/// keeps every JSON body posted to `/hook/NAME`.
final class SlackListener: Sendable {
    struct Post: Sendable {
        let hook: String
        let json: String
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:] }
        var text: String { object["text"] as? String ?? "" }
        /// Every `action_id` of the message's blocks.
        var actionIDs: [String] {
            let blocks = object["blocks"] as? [[String: Any]] ?? []
            return blocks.flatMap { ($0["elements"] as? [[String: Any]] ?? []).compactMap { $0["action_id"] as? String } }
        }
    }

    /// Every post, in order of arrival.
    final class Log: Sendable {
        let posts = Mutex<[Post]>([])
    }

    let port: Int
    private let log: Log
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    private init(port: Int, log: Log, group: ServiceGroup, task: Task<Void, Never>) {
        self.port = port
        self.log = log
        self.group = group
        self.task = task
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The URL of the hook `name`.
    func url(_ name: String) -> String { "\(baseURL)/hook/\(name)" }

    /// What was posted to `name`, in order.
    func posts(_ name: String) -> [Post] { log.posts.withLock { $0.filter { $0.hook == name } } }

    static func start() async throws -> SlackListener {
        let log = Log()
        let router = Router(context: BasicRequestContext.self)
        router.post("/hook/:name") { request, context -> HTTPResponse.Status in
            let name = context.parameters.get("name") ?? ""
            let body = try await request.body.collect(upTo: 1 << 20)
            log.posts.withLock { $0.append(Post(hook: name, json: String(buffer: body))) }
            return .ok
        }
        var logger = Logger(label: "slack-listener")
        logger.logLevel = .critical
        let (events, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            try? await group.run()
            continuation.finish()
        }
        for await port in events {
            return SlackListener(port: port, log: log, group: group, task: task)
        }
        throw KajiTestingError("the Slack listener did not start")
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        await task.value
    }

    /// Runs `body` with a listener, stopped afterwards.
    static func with<T: Sendable>(_ body: (SlackListener) async throws -> T) async throws -> T {
        let listener = try await start()
        do {
            let value = try await body(listener)
            await listener.stop()
            return value
        } catch {
            await listener.stop()
            throw error
        }
    }
}
