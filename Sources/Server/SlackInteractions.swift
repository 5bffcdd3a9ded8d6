import Engine
import Foundation
import Hummingbird
import Logging

/// The parts of a Slack interaction payload (`block_actions`, the form field `payload`) Kaji reads.
struct SlackInteractionPayload: Decodable, Sendable {
    struct User: Decodable, Sendable {
        var id: String
        var teamID: String?
        enum CodingKeys: String, CodingKey {
            case id
            case teamID = "team_id"
        }
    }
    struct Team: Decodable, Sendable {
        var id: String
    }
    struct Action: Decodable, Sendable {
        var actionID: String
        var value: String?
        var actionTS: String?
        enum CodingKeys: String, CodingKey {
            case value
            case actionID = "action_id"
            case actionTS = "action_ts"
        }
    }

    var type: String
    var user: User
    var team: Team?
    var triggerID: String?
    var responseURL: String?
    var actions: [Action]?

    enum CodingKeys: String, CodingKey {
        case type, user, team, actions
        case triggerID = "trigger_id"
        case responseURL = "response_url"
    }
}

/// A press of Approve or Reject on an approval message (`POST /slack/interactions`): an approval or a
/// rejection by that Slack user, with that user's role, refused for the run's requester (the engine
/// compares the principals `slack:TEAM/USER`). Answered with 200 at once; the message is then replaced
/// through the payload's `response_url` (approved / rejected, no buttons left), or the presser alone is
/// told why not. A repeated interaction (same `trigger_id`, else `action_ts`) does nothing again.
struct SlackInteractions: Sendable {
    let commands: SlackCommands

    var client: KajiClient { commands.client }
    var logger: Logger { commands.logger }

    func handle(_ request: Request) async throws -> Response {
        var request = request
        let (configuration, form) = try await commands.verified(&request)
        guard let text = form["payload"], let payload = try? JSONDecoder().decode(SlackInteractionPayload.self, from: Data(text.utf8)) else {
            throw KajiError(.malformedBody, "an interaction must carry a JSON payload with type and user", field: "payload")
        }
        guard let team = payload.team?.id ?? payload.user.teamID else {
            throw KajiError(.malformedBody, "an interaction payload must name the team (team.id or user.team_id)", field: "payload.team")
        }
        let principal = commands.principal(configuration, team: team, user: payload.user.id)
        guard payload.type == "block_actions", let action = payload.actions?.first,
              let decision = Self.decision(action.actionID) else {
            // Other interactions (shortcuts, modals) are not Kaji's: acknowledged, nothing done.
            return Self.acknowledged
        }
        let (approved, run) = decision
        guard let id = payload.triggerID ?? action.actionTS, !id.isEmpty else {
            throw KajiError(.malformedBody, "an interaction payload must carry trigger_id or actions[0].action_ts", field: "payload.trigger_id")
        }
        let key = "interaction:\(id.prefix(280))"
        if case .seen = try await client.claimSlackRequest(key: key, actor: principal.actor) {
            logger.info("a repeated Slack interaction was acknowledged again", metadata: ["run": "\(run)"])
            return Self.acknowledged
        }
        logger.info("Slack approval button", metadata: ["run": "\(run)", "actor": "\(principal.actor)", "approved": "\(approved)"])
        let reply: SlackMessage
        var answer: String
        if principal.role < .approver {
            answer = "\(principal.actor) has role \(principal.role.rawValue); approving or rejecting needs approver or above"
            reply = .ephemeral(answer)
        } else {
            do {
                let kind = try await client.runSummary(id: run).kind
                if approved {
                    try await client.approve(runID: run, sender: principal.actor)
                } else {
                    try await client.reject(runID: run, reason: "rejected in Slack by \(principal.actor)", sender: principal.actor)
                }
                reply = .decided(run: run, kind: kind, approved: approved, by: principal.actor)
                answer = reply.text
            } catch let error as KajiError {
                answer = "error: \(error.message)"
                reply = .ephemeral(answer)
            } catch {
                logger.error("a Slack approval failed", metadata: ["run": "\(run)", "error": "\(DatabaseConfig.describe(error))"])
                answer = "error: the server failed; its log says why"
                reply = .ephemeral(answer)
            }
        }
        do {
            try await client.recordSlackAnswer(key: key, answer: answer, run: run)
        } catch {
            logger.warning("keeping a Slack answer failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
        }
        if let url = payload.responseURL, URL(string: url)?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) == true {
            let poster = commands.poster(configuration)
            // After the answer: Slack wants the 200 within 3 s, whatever the post takes.
            Task { await poster.post(reply, to: url, fallback: false, run: run) }
        }
        return Self.acknowledged
    }

    /// `kaji.approve:RUN` → (true, RUN); `kaji.reject:RUN` → (false, RUN); nil for other actions.
    static func decision(_ actionID: String) -> (Bool, UUID)? {
        for (prefix, approved) in [(SlackMessage.approveAction, true), (SlackMessage.rejectAction, false)] where actionID.hasPrefix(prefix) {
            return UUID(uuidString: String(actionID.dropFirst(prefix.count))).map { (approved, $0) }
        }
        return nil
    }

    /// The empty 200 Slack expects for `block_actions`.
    static var acknowledged: Response { Response(status: .ok) }
}
