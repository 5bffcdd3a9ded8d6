import Engine
import Foundation

/// A message for Slack: the JSON posted to a `response_url` or an incoming webhook (`text`, `blocks`,
/// `response_type`, `replace_original`), or the body of a slash command's answer.
struct SlackMessage: Encodable, Sendable, Equatable {
    var text: String
    /// `ephemeral` (only the user sees it) or `in_channel`; nil: Slack's default (ephemeral).
    var responseType: String?
    /// True: replaces the message whose button was pressed.
    var replaceOriginal: Bool?
    /// Block Kit blocks (nil: the text alone).
    var blocks: [JSONValue]?

    enum CodingKeys: String, CodingKey {
        case text, blocks
        case responseType = "response_type"
        case replaceOriginal = "replace_original"
    }

    static func ephemeral(_ text: String) -> SlackMessage {
        SlackMessage(text: text, responseType: "ephemeral", replaceOriginal: false)
    }

    static func inChannel(_ text: String) -> SlackMessage {
        SlackMessage(text: text, responseType: "in_channel", replaceOriginal: false)
    }

    /// The prefix of the Approve and Reject buttons' action ids; the run id follows (`kaji.approve:RUN`).
    static let approveAction = "kaji.approve:"
    static let rejectAction = "kaji.reject:"

    /// The message of a run that waits for its approval: who asked, and Approve / Reject buttons whose
    /// action ids carry the run id. Posted in the channel, so that another approver can press.
    static func approvalPrompt(run: UUID, kind: String, requester: String) -> SlackMessage {
        let id = run.uuidString.lowercased()
        let text = "\(kind) run \(id) requested by \(mention(requester)) waits for approval by another approver."
        let button: (String, String, String) -> JSONValue = { label, action, style in
            .object([
                "type": .string("button"), "action_id": .string(action + id), "value": .string(id), "style": .string(style),
                "text": .object(["type": .string("plain_text"), "text": .string(label)]),
            ])
        }
        return SlackMessage(text: text, responseType: "in_channel", replaceOriginal: false, blocks: [
            .object(["type": .string("section"), "block_id": .string("kaji.run:" + id),
                     "text": .object(["type": .string("mrkdwn"), "text": .string(text)])]),
            .object(["type": .string("actions"), "block_id": .string("kaji.approval:" + id),
                     "elements": .array([button("Approve", approveAction, "primary"), button("Reject", rejectAction, "danger")])]),
        ])
    }

    /// What replaces the approval prompt once someone decided (no buttons left).
    static func decided(run: UUID, kind: String, approved: Bool, by actor: String) -> SlackMessage {
        let text = "\(kind) run \(run.uuidString.lowercased()): \(approved ? "approved" : "rejected") by \(mention(actor))."
        return SlackMessage(text: text, responseType: "in_channel", replaceOriginal: true)
    }

    /// `<@U123>` for a Slack actor (`slack:TEAM/USER`), the actor itself otherwise.
    static func mention(_ actor: String) -> String {
        guard actor.hasPrefix("slack:"), let slash = actor.lastIndex(of: "/") else { return actor }
        return "<@\(actor[actor.index(after: slash)...])>"
    }
}
