import Engine
import Foundation
import Hummingbird
import Logging
import Workflows

/// Slack's side of the server: the signing secret and who is who.
public struct SlackConfiguration: Sendable {
    /// The app's signing secret (never logged).
    public var signingSecret: String
    /// `TEAM/USER` → role; anyone else may only read (viewer).
    public var roles: [String: APIRole]

    public init(signingSecret: String, roles: [String: APIRole] = [:]) {
        self.signingSecret = signingSecret
        self.roles = roles
    }

    /// From `KAJI_SLACK_SIGNING_SECRET` and `KAJI_SLACK_USERS` (`TEAM/USER=role,…`, default none); nil
    /// without a signing secret (the Slack routes then answer 503). Errors name the variable, never the secret.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SlackConfiguration? {
        guard let secret = environment["KAJI_SLACK_SIGNING_SECRET"], !secret.isEmpty else { return nil }
        var roles: [String: APIRole] = [:]
        for entry in (environment["KAJI_SLACK_USERS"] ?? "").split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[0].split(separator: "/").count == 2 else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_USERS entry '\(entry)' must be TEAM/USER=role", field: "KAJI_SLACK_USERS")
            }
            roles[parts[0]] = try APIRole.parse(parts[1], field: "KAJI_SLACK_USERS")
        }
        return SlackConfiguration(signingSecret: secret, roles: roles)
    }
}

/// `/kaji` slash commands and the buttons of approval messages. Every request is checked against Slack's
/// signature first: a bad one gets 401 and nothing of its body is read further or logged.
struct SlackCommands: Sendable {
    let server: KajiServer
    let configuration: SlackConfiguration?

    static let usage = """
        /kaji help | status RUN|CLUSTER | runs | approve RUN | reject RUN REASON… | cancel RUN
        """

    func register(on router: Router<BasicRequestContext>) {
        router.post("/slack/commands") { request, _ -> Response in
            var request = request
            let (form, principal) = try await verified(&request)
            let text = (form["text"] ?? "").trimmingCharacters(in: .whitespaces)
            return Self.ephemeral(await answer(text, principal: principal))
        }
        router.post("/slack/interactions") { request, _ -> Response in
            var request = request
            let (form, _) = try await verified(&request)
            guard let payload = form["payload"], let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
                  let user = object["user"] as? [String: Any], let userID = user["id"] as? String,
                  let teamID = (object["team"] as? [String: Any])?["id"] as? String ?? user["team_id"] as? String,
                  let action = (object["actions"] as? [[String: Any]])?.first,
                  let actionID = action["action_id"] as? String, let value = action["value"] as? String else {
                throw KajiError(.malformedBody, "an interaction must carry payload with user, team and one action", field: "payload")
            }
            let principal = principal(team: teamID, user: userID)
            switch actionID {
            case "approve": return Self.ephemeral(await answer("approve \(value)", principal: principal))
            case "reject": return Self.ephemeral(await answer("reject \(value) rejected in Slack", principal: principal))
            default: return Self.ephemeral("unknown action \(actionID)")
            }
        }
    }

    /// Checks the signature, then parses the form; the principal is `slack:TEAM/USER` with its role.
    func verified(_ request: inout Request) async throws -> ([String: String], Principal) {
        guard let configuration else {
            throw KajiError(.notConfigured, "Slack is not configured: start kaji serve with KAJI_SLACK_SIGNING_SECRET")
        }
        let body = try await server.readBody(&request)
        let timestamp = request.headers.first { $0.name.canonicalName == "x-slack-request-timestamp" }?.value
        let signature = request.headers.first { $0.name.canonicalName == "x-slack-signature" }?.value
        guard SlackSignature.isValid(secret: configuration.signingSecret, timestamp: timestamp, signature: signature, body: body) else {
            server.logger.notice("refused a Slack request: missing, wrong or stale signature")
            throw KajiError(.unauthenticated, "the Slack signature is missing, wrong or more than 5 minutes old")
        }
        let form = Self.parseForm(String(decoding: body, as: UTF8.self))
        guard let team = form["team_id"] ?? Self.teamOfPayload(form["payload"]), let user = form["user_id"] ?? Self.userOfPayload(form["payload"]) else {
            throw KajiError(.malformedBody, "a Slack request must name team_id and user_id", field: "body")
        }
        return (form, principal(team: team, user: user))
    }

    func principal(team: String, user: String) -> Principal {
        let key = "\(team)/\(user)"
        return Principal(actor: "slack:\(key)", role: configuration?.roles[key] ?? .viewer)
    }

    /// The answer to `/kaji TEXT` from `principal`: a line for an ephemeral message. Errors are answered,
    /// not thrown (Slack shows a non-200 as a generic failure).
    func answer(_ text: String, principal: Principal) async -> String {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        do {
            switch words.first ?? "help" {
            case "help":
                return Self.usage
            case "runs":
                let runs = try await server.client.runs(RunQuery(limit: 10))
                if runs.isEmpty { return "no runs" }
                return runs.map { "\($0.id)  \($0.kind)  \($0.state.rawValue)" }.joined(separator: "\n")
            case "status":
                guard words.count == 2 else { return "usage: /kaji status RUN|CLUSTER" }
                if let id = UUID(uuidString: words[1]) {
                    let run = try await server.client.runSummary(id: id)
                    return "run \(run.id): \(run.kind) \(run.state.rawValue) (attempt \(run.attempt)/\(run.maxAttempts))\(run.lastError.map { ", last error: \($0)" } ?? "")"
                }
                let cluster = try await server.clusters.cluster(named: words[1])
                return "cluster \(cluster.name): \(cluster.state)"
            case "approve", "reject", "cancel":
                let needed: APIRole = words[0] == "cancel" ? .operator : .approver
                guard principal.role >= needed else {
                    return "\(principal.actor) has role \(principal.role.rawValue); \(words[0]) needs \(needed.rawValue)"
                }
                guard words.count >= 2, let id = UUID(uuidString: words[1]) else { return "usage: /kaji \(words[0]) RUN\(words[0] == "reject" ? " REASON…" : "")" }
                switch words[0] {
                case "approve":
                    let receipt = try await server.client.approve(runID: id, sender: principal.actor)
                    return "approved run \(receipt.run) as \(receipt.sender)"
                case "reject":
                    let reason = words.dropFirst(2).joined(separator: " ")
                    guard !reason.isEmpty else { return "usage: /kaji reject RUN REASON…" }
                    let receipt = try await server.client.reject(runID: id, reason: reason, sender: principal.actor)
                    return "rejected run \(receipt.run) as \(receipt.sender)"
                default:
                    let outcome = try await server.client.cancel(runID: id, reason: "cancelled from Slack", actor: principal.actor)
                    return outcome == .cancelled ? "cancelled run \(id)" : "cancel requested for run \(id): it stops at its next step"
                }
            default:
                return "unknown command '\(words[0])'; \(Self.usage)"
            }
        } catch let error as KajiError {
            return "error: \(error.message)"
        } catch {
            server.logger.error("slack command failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return "error: the server failed; its log says why"
        }
    }

    static func ephemeral(_ text: String) -> Response {
        JSONBody.response(.ok, ["response_type": "ephemeral", "text": text])
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

    static func payloadObject(_ payload: String?) -> [String: Any]? {
        payload.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func teamOfPayload(_ payload: String?) -> String? {
        guard let object = payloadObject(payload) else { return nil }
        return (object["team"] as? [String: Any])?["id"] as? String ?? (object["user"] as? [String: Any])?["team_id"] as? String
    }

    static func userOfPayload(_ payload: String?) -> String? {
        (payloadObject(payload)?["user"] as? [String: Any])?["id"] as? String
    }
}
