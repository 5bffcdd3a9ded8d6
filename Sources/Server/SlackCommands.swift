import AsyncHTTPClient
import Engine
import Foundation
import Hummingbird
import Logging
import Workflows

/// `/kaji` slash commands (`POST /slack/commands`) and the buttons of approval messages
/// (`POST /slack/interactions`). Every request is checked against Slack's signature first: a bad one gets
/// 401, nothing is done and nothing of its body is logged or echoed.
///
/// A command is answered within Slack's 3 s with an ephemeral message naming the run it started; commands
/// that change something are done once per `trigger_id` (a repeat gets the first answer); the runs they start
/// are followed by `SlackFollower`, which posts progress and the outcome to the command's `response_url`.
struct SlackCommands: Sendable {
    let server: KajiServer
    let configuration: SlackConfiguration?

    var client: KajiClient { server.client }
    var logger: Logger { server.logger }

    func poster(_ configuration: SlackConfiguration) -> SlackPoster {
        SlackPoster(client: client, webhookURL: configuration.webhookURL, http: .shared, logger: logger)
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/slack/commands") { request, _ -> Response in
            try await command(request)
        }
        router.post("/slack/interactions") { request, _ -> Response in
            try await SlackInteractions(commands: self).handle(request)
        }
    }

    /// What a command answered: the text of its ephemeral message and the run it started or found.
    struct Answer: Sendable {
        var text: String
        var run: UUID?
    }

    func command(_ request: Request) async throws -> Response {
        var request = request
        let (configuration, form) = try await verified(&request)
        // Slack checks the certificate of a command URL now and then with a request that is no command.
        if form["ssl_check"] == "1" { return Response(status: .ok) }
        guard let team = form["team_id"], let user = form["user_id"], !team.isEmpty, !user.isEmpty else {
            throw KajiError(.malformedBody, "a slash command must carry team_id and user_id", field: "body")
        }
        let principal = principal(configuration, team: team, user: user)
        let command: SlackCommand
        do {
            command = try SlackCommand.parse(form["text"] ?? "")
        } catch let error as KajiError {
            return Self.answer(error.message)
        }
        guard principal.role >= command.role else {
            return Self.answer("\(principal.actor) has role \(principal.role.rawValue); /kaji \(command.name) needs \(command.role.rawValue) or above")
        }
        guard command.writes else { return Self.answer(await read(command)) }

        let responseURL = form["response_url"].flatMap { $0.isEmpty ? nil : $0 }
        let trigger = form["trigger_id"].flatMap { $0.isEmpty ? nil : $0 }
        let key = trigger.map { "command:\($0.prefix(280))" }
        if let key {
            switch try await client.claimSlackRequest(key: key, actor: principal.actor) {
            case .seen(let answer, _):
                logger.info("a repeated Slack command was answered again", metadata: ["command": "\(command.name)"])
                return Self.answer(answer ?? "this request (trigger_id) was received already and is being worked on; its answer follows")
            case .new:
                break
            }
        }
        logger.info("Slack command", metadata: ["command": "\(command.name)", "actor": "\(principal.actor)"])
        let context = Context(principal: principal, responseURL: responseURL, trigger: trigger)
        let commands = self
        let work: @Sendable () async -> Answer = {
            let answer = await commands.execute(command, context, configuration: configuration)
            if let key {
                do {
                    try await commands.client.recordSlackAnswer(key: key, answer: answer.text, run: answer.run)
                } catch {
                    commands.logger.warning("keeping a Slack answer failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
                }
            }
            return answer
        }
        let messenger = self.poster(configuration)
        let inTime = await SlackDeadline.race(configuration.answerDeadline, work) { late in
            if let responseURL { await messenger.post(.ephemeral(late.text), to: responseURL, keep: 1, fallback: false, run: late.run) }
        }
        return Self.answer(inTime?.text ?? "working on /kaji \(command.name); the answer follows here")
    }

    /// Who sent a command, and where its messages go.
    struct Context: Sendable {
        let principal: Principal
        let responseURL: String?
        let trigger: String?
        var actor: String { principal.actor }
        /// The idempotency key of a run enqueued for this command: `slack:TRIGGER_ID`.
        var idempotencyKey: String? { trigger.map { "slack:\($0.prefix(400))" } }
    }

    /// Does a command that changes something; errors are answered, not thrown.
    func execute(_ command: SlackCommand, _ context: Context, configuration: SlackConfiguration) async -> Answer {
        do {
            switch command {
            case .apply(let cluster):
                guard let directory = configuration.manifestDirectory else {
                    return Answer(text: "apply is not configured: start kaji serve with --slack-manifests DIR (or KAJI_SLACK_MANIFESTS)")
                }
                let found = try SlackManifests(directory: directory).manifest(named: cluster)
                let (checked, report) = ClusterService.validate(yaml: found.yaml, file: found.file)
                guard let spec = checked else {
                    return Answer(text: "\(found.file) cannot be applied (nothing was enqueued):\n" + report.problems.prefix(10).map(\.description).joined(separator: "\n"))
                }
                return try await apply(spec, context, from: found.file)
            case .scale(let cluster, let masters, let workers):
                var spec = try await server.clusters.cluster(named: cluster).spec
                if let masters { spec.masters.replicas = masters }
                if let workers { spec.workers.replicas = workers }
                let problems = ClusterManifest.validate(spec)
                guard problems.isEmpty else {
                    return Answer(text: "cannot scale \(cluster) (nothing was enqueued):\n" + problems.prefix(10).map(\.description).joined(separator: "\n"))
                }
                return try await apply(spec, context, from: "the inventory")
            case .backup(let cluster, let name):
                return try await enqueue(ClusterKinds.backup, BackupInput(cluster: cluster, name: name), cluster: cluster, context)
            case .restore(let cluster, let backup):
                return try await enqueue(ClusterKinds.restore, RestoreInput(cluster: cluster, backup: backup), cluster: cluster, context)
            case .rotate(let cluster):
                return try await enqueue(ClusterKinds.rotatePassword, RotatePasswordInput(cluster: cluster), cluster: cluster, context)
            case .approve(let run):
                let receipt = try await client.approve(runID: run, sender: context.actor)
                return Answer(text: "approved run \(Self.id(receipt.run)) as \(receipt.sender)", run: run)
            case .reject(let run, let reason):
                let receipt = try await client.reject(runID: run, reason: reason, sender: context.actor)
                return Answer(text: "rejected run \(Self.id(receipt.run)) as \(receipt.sender)", run: run)
            case .cancel(let run):
                let outcome = try await client.cancel(runID: run, reason: "cancelled from Slack", actor: context.actor)
                return Answer(text: outcome == .cancelled ? "cancelled run \(Self.id(run))" : "cancel requested for run \(Self.id(run)): it stops at its next step", run: run)
            case .help, .status, .runs:
                return Answer(text: await read(command))
            }
        } catch let error as KajiError {
            return Answer(text: "error: \(error.message)")
        } catch let refused as ApplyRefused {
            return Answer(text: "cannot apply \(refused.cluster) (nothing was enqueued):\n\(refused.description)")
        } catch {
            logger.error("a Slack command failed", metadata: ["command": "\(command.name)", "error": "\(DatabaseConfig.describe(error))"])
            return Answer(text: "error: the server failed; its log says why")
        }
    }

    /// Applies a manifest as `kaji apply` does (through `ClusterService`), and follows the run.
    func apply(_ spec: ClusterSpec, _ context: Context, from source: String) async throws -> Answer {
        let report = try await server.clusters.apply(spec, dryRun: false, actor: context.actor)
        guard let run = report.runID, let kind = report.plan.kind else {
            return Answer(text: report.plan.summary)
        }
        let id = Self.id(run)
        guard report.created == true else {
            return Answer(text: "already enqueued: \(kind) run \(id), \(report.runState?.rawValue ?? "unknown") (this manifest was applied before)", run: run)
        }
        let followed = try await follow(run, context)
        var text = "enqueued \(kind) run \(id) from \(source): \(report.plan.summary)"
        if report.plan.action == .provision {
            text += ". It waits for approval by another approver\(followed ? ": the buttons follow here" : " (/kaji approve \(id))")"
        } else if followed {
            text += "; progress follows here"
        }
        return Answer(text: text, run: run)
    }

    /// Enqueues one cluster operation for a cluster of the inventory, once per `trigger_id`.
    func enqueue<Input: Encodable>(_ kind: String, _ input: Input, cluster: String, _ context: Context) async throws -> Answer {
        _ = try await server.clusters.cluster(named: cluster)
        let request = EnqueueRequest(kind: kind, input: try KajiJSON.string(input), idempotencyKey: context.idempotencyKey, actor: context.actor)
        let result = try await client.enqueue(request)
        let id = Self.id(result.id)
        guard result.created else { return Answer(text: "already enqueued: \(kind) run \(id) for cluster \(cluster)", run: result.id) }
        let followed = try await follow(result.id, context)
        return Answer(text: "enqueued \(kind) run \(id) for cluster \(cluster)\(followed ? "; progress follows here" : "")", run: result.id)
    }

    /// Follows `run` for the command's `response_url` (when it has one).
    func follow(_ run: UUID, _ context: Context) async throws -> Bool {
        guard let url = context.responseURL else { return false }
        try await client.followFromSlack(run: run, responseURL: url, requester: context.actor)
        return true
    }

    /// The answer to a command that only reads.
    func read(_ command: SlackCommand) async -> String {
        do {
            switch command {
            case .runs:
                let runs = try await client.runs(RunQuery(limit: 10))
                if runs.isEmpty { return "no runs" }
                return runs.map { "\(Self.id($0.id))  \($0.kind)  \($0.state.rawValue)" }.joined(separator: "\n")
            case .status(nil):
                let clusters = try await server.clusters.clusters()
                if clusters.isEmpty { return "no clusters (/kaji apply NAME creates one)" }
                return clusters.map { "cluster \($0.name): \($0.state)" }.joined(separator: "\n")
            case .status(let target?):
                if let id = UUID(uuidString: target) {
                    let run = try await client.runSummary(id: id)
                    return "run \(Self.id(run.id)): \(run.kind) \(run.state.rawValue) (attempt \(run.attempt)/\(run.maxAttempts))\(run.lastError.map { ", last error: \($0)" } ?? "")"
                }
                let cluster = try await server.clusters.cluster(named: target)
                return "cluster \(cluster.name): \(cluster.state)"
            default:
                return SlackCommand.usage
            }
        } catch let error as KajiError {
            return "error: \(error.message)"
        } catch {
            logger.error("a Slack command failed", metadata: ["command": "\(command.name)", "error": "\(DatabaseConfig.describe(error))"])
            return "error: the server failed; its log says why"
        }
    }

    // MARK: - Requests

    /// Checks the signature, then parses the form. Refused: 401 with nothing of the body read further or logged.
    func verified(_ request: inout Request) async throws -> (SlackConfiguration, [String: String]) {
        guard let configuration else {
            throw KajiError(.notConfigured, "Slack is not configured: start kaji serve with KAJI_SLACK_SIGNING_SECRET")
        }
        let body = try await server.readBody(&request)
        let timestamp = request.headers.first { $0.name.canonicalName == "x-slack-request-timestamp" }?.value
        let signature = request.headers.first { $0.name.canonicalName == "x-slack-signature" }?.value
        guard SlackSignature.isValid(secret: configuration.signingSecret, timestamp: timestamp, signature: signature, body: body) else {
            logger.notice("refused a Slack request: missing, wrong or stale signature")
            throw KajiError(.unauthenticated, "the Slack signature is missing, wrong or more than 5 minutes old")
        }
        return (configuration, Self.parseForm(String(decoding: body, as: UTF8.self)))
    }

    func principal(_ configuration: SlackConfiguration, team: String, user: String) -> Principal {
        Principal(actor: "slack:\(team)/\(user)", role: configuration.role(team: team, user: user))
    }

    static func id(_ run: UUID) -> String { run.uuidString.lowercased() }

    /// A command's HTTP answer: an ephemeral message.
    static func answer(_ text: String) -> Response {
        JSONBody.response(.ok, SlackMessage(text: text, responseType: "ephemeral"))
    }

    /// `application/x-www-form-urlencoded` fields (the last of a repeated name wins).
    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}
