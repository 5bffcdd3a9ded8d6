import Engine
import Foundation

/// Slack's side of the server: the signing secret, who is who, where `/kaji apply` finds manifests and
/// where messages go once a `response_url` is used up.
public struct SlackConfiguration: Sendable {
    /// The app's signing secret (never logged).
    public var signingSecret: String
    /// `TEAM/USER` → role; anyone else may only read (viewer).
    public var roles: [String: APIRole]
    /// The folder `/kaji apply NAME` reads cluster manifests from (`*.yaml`, `*.yml`, also in subfolders;
    /// a git checkout works); default nil: `apply` answers that none is configured.
    public var manifestDirectory: String?
    /// An incoming webhook (`https://hooks.slack.com/services/…`) for the approval prompts and outcomes of
    /// runs not started from Slack, and for those of Slack's runs that no longer fit their `response_url` (5
    /// posts, 30 minutes); default nil: the former are not posted (said once at start-up), the latter are
    /// logged as not posted. A secret: never logged.
    public var webhookURL: String?
    /// How often the runs started from Slack are read for progress (default 2 s).
    public var pollInterval: Duration
    /// How long a command may work before its HTTP answer says the result follows (default 2.5 s: Slack
    /// shows an error after 3 s). The work goes on; its answer is then posted to the `response_url`. Zero:
    /// every command is answered at once and its result posted.
    public var answerDeadline: Duration

    /// - Parameters: see the properties for each default.
    public init(signingSecret: String, roles: [String: APIRole] = [:], manifestDirectory: String? = nil, webhookURL: String? = nil,
                pollInterval: Duration = .seconds(2), answerDeadline: Duration = .milliseconds(2500)) {
        self.signingSecret = signingSecret
        self.roles = roles
        self.manifestDirectory = manifestDirectory
        self.webhookURL = webhookURL
        self.pollInterval = pollInterval
        self.answerDeadline = answerDeadline
    }

    /// The role of `slack:TEAM/USER` (viewer when not configured).
    public func role(team: String, user: String) -> APIRole {
        roles["\(team)/\(user)"] ?? .viewer
    }

    /// From the environment; nil without a signing secret (the Slack routes then answer 503). Errors name
    /// the variable, never a secret.
    ///
    /// - `KAJI_SLACK_SIGNING_SECRET`, or `KAJI_SLACK_SIGNING_SECRET_FILE` (a file holding it)
    /// - `KAJI_SLACK_USERS`: `TEAM/USER=role,…` (default none: everyone reads only)
    /// - `KAJI_SLACK_MANIFESTS`: the manifest folder of `/kaji apply` (default none; `manifestDirectory`
    ///   overrides it, e.g. from `kaji serve --slack-manifests`)
    /// - `KAJI_SLACK_WEBHOOK_URL`: the incoming webhook (default none)
    /// - `KAJI_SLACK_POLL_MS`: the progress poll interval in milliseconds (default 2000, 50...60000)
    /// - `KAJI_SLACK_ANSWER_MS`: how long a command may work before its answer says the result follows
    ///   (default 2500, 0...2900; 0 answers at once and posts every result to the `response_url`)
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                       manifestDirectory: String? = nil) throws -> SlackConfiguration? {
        var secret = environment["KAJI_SLACK_SIGNING_SECRET"] ?? ""
        if secret.isEmpty, let path = environment["KAJI_SLACK_SIGNING_SECRET_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_SIGNING_SECRET_FILE '\(path)' cannot be read", field: "KAJI_SLACK_SIGNING_SECRET_FILE")
            }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !secret.isEmpty else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_SIGNING_SECRET_FILE '\(path)' is empty", field: "KAJI_SLACK_SIGNING_SECRET_FILE")
            }
        }
        guard !secret.isEmpty else { return nil }
        var roles: [String: APIRole] = [:]
        for entry in (environment["KAJI_SLACK_USERS"] ?? "").split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[0].split(separator: "/").count == 2 else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_USERS entry '\(entry)' must be TEAM/USER=role", field: "KAJI_SLACK_USERS")
            }
            roles[parts[0]] = try APIRole.parse(parts[1], field: "KAJI_SLACK_USERS")
        }
        var configuration = SlackConfiguration(signingSecret: secret, roles: roles)
        if let directory = manifestDirectory ?? environment["KAJI_SLACK_MANIFESTS"].flatMap({ $0.isEmpty ? nil : $0 }) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw KajiError(.invalidArgument, "the Slack manifest folder '\(directory)' is not a directory (KAJI_SLACK_MANIFESTS or --slack-manifests)",
                                field: "KAJI_SLACK_MANIFESTS")
            }
            configuration.manifestDirectory = directory
        }
        if let webhook = environment["KAJI_SLACK_WEBHOOK_URL"], !webhook.isEmpty {
            guard let url = URL(string: webhook), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_WEBHOOK_URL must be an http(s) URL (an incoming webhook of the Slack app)", field: "KAJI_SLACK_WEBHOOK_URL")
            }
            configuration.webhookURL = webhook
        }
        if let text = environment["KAJI_SLACK_POLL_MS"], !text.isEmpty {
            guard let millis = Int(text), (50...60_000).contains(millis) else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_POLL_MS '\(text)' must be milliseconds in 50...60000", field: "KAJI_SLACK_POLL_MS")
            }
            configuration.pollInterval = .milliseconds(millis)
        }
        if let text = environment["KAJI_SLACK_ANSWER_MS"], !text.isEmpty {
            guard let millis = Int(text), (0...2900).contains(millis) else {
                throw KajiError(.invalidArgument, "KAJI_SLACK_ANSWER_MS '\(text)' must be milliseconds in 0...2900 (Slack waits 3 s for an answer)", field: "KAJI_SLACK_ANSWER_MS")
            }
            configuration.answerDeadline = .milliseconds(millis)
        }
        return configuration
    }
}

// swift-service-lifecycle logs each service with `String(describing:)` at debug level, and a service may hold
// this configuration: every way of printing it leaves the signing secret, the webhook URL and the users out.
extension SlackConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "SlackConfiguration(signingSecret: <redacted>, users: \(roles.count), manifestDirectory: \(manifestDirectory ?? "none"), "
            + "webhookURL: \(webhookURL == nil ? "none" : "<redacted>"), pollInterval: \(pollInterval), answerDeadline: \(answerDeadline))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
