import AsyncHTTPClient
import Engine
import Foundation
import Logging
import NIOCore

/// Posts messages to Slack: to a `response_url` while Slack still takes posts there (5 in 30 minutes,
/// counted in PostgreSQL so that every serve process and a restarted one agree), else to the configured
/// incoming webhook. URLs and message bodies are never logged: a `response_url` lets whoever holds it post
/// to the channel, and the webhook URL is a secret.
struct SlackPoster: Sendable {
    let client: KajiClient
    let webhookURL: String?
    let http: HTTPClient
    let logger: Logger
    /// How long one post may take (default 10 s).
    var timeout: TimeAmount = .seconds(10)

    enum Destination: String, Sendable {
        case responseURL = "response_url"
        case webhook
        /// Neither took it (no room left and no webhook, or the post failed).
        case nowhere
    }

    /// Posts `message` to `responseURL` when Slack still takes a post there with `keep` posts left over
    /// for later messages; otherwise, when `fallback` holds, to the incoming webhook.
    @discardableResult
    func post(_ message: SlackMessage, to responseURL: String, keep: Int = 0, fallback: Bool, run: UUID? = nil) async -> Destination {
        var metadata: Logger.Metadata = [:]
        if let run { metadata["run"] = "\(run)" }
        do {
            if try await client.reserveSlackPost(responseURL: responseURL, keep: keep) {
                try await send(message, to: responseURL)
                return .responseURL
            }
        } catch {
            metadata["error"] = "\(Self.describe(error))"
            logger.warning("a Slack post to the response_url failed", metadata: metadata)
        }
        guard fallback else { return .nowhere }
        guard webhookURL != nil else {
            logger.notice("a Slack message was not posted: its response_url takes no more posts and no incoming webhook is configured (KAJI_SLACK_WEBHOOK_URL)", metadata: metadata)
            return .nowhere
        }
        return await postToWebhook(message, run: run) ? .webhook : .nowhere
    }

    /// Posts `message` to the incoming webhook (without the fields only a `response_url` takes); false when
    /// none is configured or the post failed (logged, without the URL).
    func postToWebhook(_ message: SlackMessage, run: UUID? = nil) async -> Bool {
        guard let webhookURL else { return false }
        var webhookMessage = message
        webhookMessage.responseType = nil
        webhookMessage.replaceOriginal = nil
        do {
            try await send(webhookMessage, to: webhookURL)
            return true
        } catch {
            var metadata: Logger.Metadata = ["error": "\(Self.describe(error))"]
            if let run { metadata["run"] = "\(run)" }
            logger.warning("a Slack post to the incoming webhook failed", metadata: metadata)
            return false
        }
    }

    /// One POST of the message as JSON; throws on a transport error or a status other than 2xx.
    func send(_ message: SlackMessage, to url: String) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.body = .bytes(ByteBuffer(string: try KajiJSON.string(message)))
        let response = try await http.execute(request, timeout: timeout)
        _ = try? await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) else {
            throw SlackPostFailed(status: Int(response.status.code))
        }
    }

    /// An error without the URL in it (AsyncHTTPClient's errors do not carry it; this keeps it so).
    static func describe(_ error: any Error) -> String {
        if let failed = error as? SlackPostFailed { return "Slack answered HTTP \(failed.status)" }
        if let error = error as? KajiError { return error.message }
        return String(describing: type(of: error)) + ": " + String(String(describing: error).prefix(200))
    }
}

struct SlackPostFailed: Error {
    let status: Int
}
