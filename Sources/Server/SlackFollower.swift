import AsyncHTTPClient
import Engine
import Foundation
import Logging
import ServiceLifecycle

/// Follows the runs started from Slack and posts their progress to the command's `response_url`: started,
/// the approval prompt with Approve / Reject buttons, approved and going on, then the outcome. With an
/// incoming webhook configured, it also posts the approval prompt of every other run that waits for its
/// approval (started from the CLI, the HTTP API or a schedule) to the webhook, then that run's progress
/// (approved and going on) and outcome (see `SlackFollower+Prompts.swift`). A swift-service-lifecycle
/// service of `kaji serve`: it reads the runs through `KajiClient` every `pollInterval` until graceful
/// shutdown.
///
/// What has been reported lives in PostgreSQL (`slack_follows.phase`, `slack_prompts.phase`), moved by
/// compare-and-set before each post, so several serve processes on one database post each message once and
/// a restarted process goes on where the last one stopped. Progress posts keep one post of the
/// `response_url`'s five for the outcome; the approval prompt and the outcome go to the incoming webhook
/// when the `response_url` is used up or older than 30 minutes. A database failure is logged and tried
/// again on the next tick.
public struct SlackFollower: Service, CustomStringConvertible {
    let client: KajiClient
    let configuration: SlackConfiguration
    let poster: SlackPoster
    let logger: Logger
    /// How often old request ids and post counts are forgotten (hourly).
    static let pruneEvery: Duration = .seconds(3600)

    /// - Parameters:
    ///   - http: the HTTP client for posts (default: AsyncHTTPClient's shared client).
    public init(client: KajiClient, configuration: SlackConfiguration, http: HTTPClient = .shared, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.poster = SlackPoster(client: client, webhookURL: configuration.webhookURL, http: http, logger: logger)
        self.logger = logger
    }

    /// What swift-service-lifecycle logs (nothing of the configuration's secrets).
    public var description: String { "SlackFollower(every \(configuration.pollInterval))" }

    public func run() async throws {
        if configuration.webhookURL == nil {
            // Once per process, not per run: without a webhook, runs not started from Slack stay out of chat.
            logger.notice("no incoming webhook is configured (KAJI_SLACK_WEBHOOK_URL): runs not started from Slack that wait for approval get no prompt in Slack")
        }
        try? await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var nextPrune = clock.now
            var prompts = PromptPacing(every: configuration.pollInterval, now: clock.now)
            while !Task.isCancelled {
                await tick()
                if configuration.webhookURL != nil, clock.now >= prompts.due {
                    prompts.passed(await promptTick(), now: clock.now)
                }
                if clock.now >= nextPrune {
                    nextPrune = clock.now + Self.pruneEvery
                    do {
                        try await client.pruneSlack()
                    } catch {
                        logger.warning("forgetting old Slack request ids failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
                    }
                }
                try await Task.sleep(for: configuration.pollInterval)
            }
        }
    }

    /// One pass over the followed runs.
    func tick() async {
        let follows: [SlackFollow]
        do {
            follows = try await client.slackFollows()
        } catch {
            logger.warning("reading the runs followed for Slack failed", metadata: ["error": "\(DatabaseConfig.describe(error))"])
            return
        }
        for follow in follows {
            do {
                try await report(follow)
            } catch {
                logger.warning("reporting a run to Slack failed", metadata: ["run": "\(follow.run)", "error": "\(DatabaseConfig.describe(error))"])
            }
        }
    }

    /// The next phase to report for `follow`, or nil when nothing new happened.
    static func next(_ follow: SlackFollow) -> SlackPhase? {
        next(phase: follow.phase, state: follow.state, awaitingApproval: follow.awaitingApproval)
    }

    /// The next phase to report for a run at `state` whose messages got to `phase`, or nil when nothing new
    /// happened.
    static func next(phase: SlackPhase, state: RunState, awaitingApproval: Bool) -> SlackPhase? {
        if state.isFinished { return .finished }
        if awaitingApproval { return phase == .approval ? nil : .approval }
        switch phase {
        case .enqueued: return state == .pending ? nil : .started
        case .approval: return .approved
        case .started, .approved, .finished: return nil
        }
    }

    func report(_ follow: SlackFollow) async throws {
        guard let next = Self.next(follow) else { return }
        guard try await client.advanceSlackFollow(run: follow.run, from: follow.phase, to: next) else { return }
        let id = follow.run.uuidString.lowercased()
        let message: SlackMessage
        let keep: Int
        switch next {
        case .enqueued:
            return
        case .started:
            message = .inChannel("\(follow.kind) run \(id) started.")
            keep = 2
        case .approval:
            message = .approvalPrompt(run: follow.run, kind: follow.kind, requester: follow.requester)
            keep = 1
        case .approved:
            message = .inChannel("\(follow.kind) run \(id) was approved and goes on.")
            keep = 1
        case .finished:
            message = .inChannel(Self.outcome(follow))
            keep = 0
        }
        // Progress that does not fit is left out; the prompt and the outcome go to the webhook instead.
        let destination = await poster.post(message, to: follow.responseURL, keep: keep, fallback: next == .approval || next == .finished, run: follow.run)
        logger.info("reported a run to Slack", metadata: ["run": "\(follow.run)", "kind": "\(follow.kind)", "phase": "\(next.rawValue)", "to": "\(destination.rawValue)"])
    }

    static func outcome(_ follow: SlackFollow) -> String {
        outcome(run: follow.run, kind: follow.kind, state: follow.state, lastError: follow.lastError, cancelRequestedBy: follow.cancelRequestedBy)
    }

    /// The message of a finished run: succeeded, cancelled (by whom) or failed (why).
    static func outcome(run: UUID, kind: String, state: RunState, lastError: String?, cancelRequestedBy: String?) -> String {
        let id = run.uuidString.lowercased()
        switch state {
        case .succeeded:
            return "\(kind) run \(id) succeeded."
        case .cancelled:
            return "\(kind) run \(id) was cancelled\(cancelRequestedBy.map { " by \(SlackMessage.mention($0))" } ?? "")."
        default:
            return "\(kind) run \(id) failed\(lastError.map { ": \($0.prefix(500))" } ?? ".")"
        }
    }
}
