import Engine
import Foundation
import Logging

/// Approval prompts on the incoming webhook for the runs not started from Slack.
///
/// A run enqueued from the CLI (`cli:USER`), the HTTP API (`token:NAME`) or a schedule that waits for its
/// approval posts nothing by itself: no `/kaji` command follows it. With `KAJI_SLACK_WEBHOOK_URL` set, each
/// pass takes the runs that began to wait (a row in `slack_prompts`, inserted by one serve process alone)
/// and posts their message with Approve / Reject buttons to the webhook; later passes post "approved and
/// goes on" and the outcome there, each after a compare-and-set of the row's phase. Pressing a button is
/// the same interaction as on a followed run's prompt (`SlackInteractions`): an approval by that Slack
/// user, refused below the approver role, and refused for the requester by the engine's four-eyes rule
/// (which compares principals: `slack:TEAM/USER` is never `cli:USER` nor `token:NAME`).
///
/// A post that fails moves the row back, so the message is tried again; the passes then slow down (doubling
/// up to five minutes) until a post goes through again, so a broken webhook is not hammered. Without a
/// webhook nothing is read, posted or recorded.
extension SlackFollower {
    /// At most this many runs are taken for new prompts in one pass (default 10).
    static let promptsPerPass = 10
    /// The longest pause between passes while the webhook fails (five minutes).
    static let promptBackoffLimit: Duration = .seconds(300)

    /// When the next pass over the prompts is due: every tick while posts go through, later and later while
    /// they fail.
    struct PromptPacing {
        let every: Duration
        var backoff: Duration
        var due: ContinuousClock.Instant

        init(every: Duration, now: ContinuousClock.Instant) {
            self.every = every
            self.backoff = every
            self.due = now
        }

        /// After a pass: `ok` (every post went through) keeps the pace; a failure doubles the pause.
        mutating func passed(_ ok: Bool, now: ContinuousClock.Instant) {
            if ok {
                backoff = every
                due = now
            } else {
                backoff = min(backoff * 2, SlackFollower.promptBackoffLimit)
                due = now + backoff
            }
        }
    }

    /// One pass: the progress and outcomes of the runs prompted before, then the prompts of the runs that
    /// began to wait. False when a post failed (the pass stops there; that message is tried again later).
    func promptTick() async -> Bool {
        let open: [SlackPrompt]
        do {
            open = try await client.slackPrompts()
        } catch {
            logger.warning("reading the Slack approval prompts failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return true
        }
        for prompt in open {
            do {
                guard try await reportPrompted(prompt) else { return false }
            } catch {
                logger.warning("reporting a prompted run to Slack failed", metadata: ["run": "\(prompt.run)", "error": "\(DatabaseConfig.describe(error))"])
            }
        }
        let claimed: [SlackPrompt]
        do {
            claimed = try await client.claimSlackPrompts(limit: Self.promptsPerPass)
        } catch {
            logger.warning("taking the runs that wait for approval for Slack failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return true
        }
        for (index, prompt) in claimed.enumerated() {
            let message = SlackMessage.approvalPrompt(run: prompt.run, kind: prompt.kind, requester: prompt.requester)
            if await poster.postToWebhook(message, run: prompt.run) {
                logger.info("posted an approval prompt to Slack", metadata: ["run": "\(prompt.run)", "kind": "\(prompt.kind)", "phase": "approval", "to": "webhook"])
                continue
            }
            // Not posted: this run and the others taken with it are given back for a later pass.
            for unposted in claimed[index...] {
                do {
                    try await client.releaseSlackPrompt(run: unposted.run)
                } catch {
                    logger.warning("giving back an unposted Slack approval prompt failed", metadata: ["run": "\(unposted.run)", "error": "\(DatabaseConfig.describe(error))"])
                }
            }
            return false
        }
        return true
    }

    /// Posts what happened to a prompted run since its last message, if anything. False when the post
    /// failed (the phase is moved back for a later pass).
    func reportPrompted(_ prompt: SlackPrompt) async throws -> Bool {
        guard let next = Self.next(phase: prompt.phase, state: prompt.state, awaitingApproval: prompt.awaitingApproval) else { return true }
        guard try await client.advanceSlackPrompt(run: prompt.run, from: prompt.phase, to: next) else { return true }
        let id = prompt.run.uuidString.lowercased()
        let message: SlackMessage
        switch next {
        case .enqueued, .started:
            return true
        case .approval:
            message = .approvalPrompt(run: prompt.run, kind: prompt.kind, requester: prompt.requester)
        case .approved:
            message = .inChannel("\(prompt.kind) run \(id) was approved and goes on.")
        case .finished:
            message = .inChannel(Self.outcome(run: prompt.run, kind: prompt.kind, state: prompt.state, lastError: prompt.lastError,
                                              cancelRequestedBy: prompt.cancelRequestedBy))
        }
        guard await poster.postToWebhook(message, run: prompt.run) else {
            _ = try await client.advanceSlackPrompt(run: prompt.run, from: next, to: prompt.phase)
            return false
        }
        logger.info("reported a prompted run to Slack", metadata: ["run": "\(prompt.run)", "kind": "\(prompt.kind)", "phase": "\(next.rawValue)", "to": "webhook"])
        return true
    }
}
