import Engine
import Foundation
import KajiTesting
import Server
import Testing

@Suite("Slack configuration from the environment")
struct SlackConfigurationTests {
    static let secret = "s3cr3t-signing-value"
    static let webhook = "https://hooks.slack.com/services/T000/B000/very-secret-path"

    @Test("every variable is read; none means no Slack")
    func reads() throws {
        #expect(try SlackConfiguration.fromEnvironment([:]) == nil)
        let folder = TestEnvironment.temporaryPath("manifests")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = try #require(try SlackConfiguration.fromEnvironment([
            "KAJI_SLACK_SIGNING_SECRET": Self.secret, "KAJI_SLACK_USERS": "T1/U1=approver, T1/U2=operator",
            "KAJI_SLACK_MANIFESTS": folder, "KAJI_SLACK_WEBHOOK_URL": Self.webhook, "KAJI_SLACK_POLL_MS": "250", "KAJI_SLACK_ANSWER_MS": "1000",
        ]))
        #expect(config.signingSecret == Self.secret)
        #expect(config.role(team: "T1", user: "U1") == .approver)
        #expect(config.role(team: "T1", user: "U2") == .operator)
        #expect(config.role(team: "T2", user: "U1") == .viewer, "a user of another team is nobody here")
        #expect(config.manifestDirectory == folder)
        #expect(config.webhookURL == Self.webhook)
        #expect(config.pollInterval == .milliseconds(250))
        #expect(config.answerDeadline == .seconds(1))
        // However it is printed (service-lifecycle logs services at debug level), no secret shows.
        for text in [String(describing: config), String(reflecting: config), "\(config)", { var s = ""; dump(config, to: &s); return s }()] {
            #expect(!text.contains(Self.secret) && !text.contains("very-secret-path") && !text.contains("U1"), "\(text)")
        }

        let file = TestEnvironment.temporaryPath("signing-secret")
        try Data((Self.secret + "\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(try SlackConfiguration.fromEnvironment(["KAJI_SLACK_SIGNING_SECRET_FILE": file])?.signingSecret == Self.secret)
    }

    @Test("a bad value is refused naming its variable, never repeating a secret")
    func refused() {
        let base = ["KAJI_SLACK_SIGNING_SECRET": Self.secret]
        let cases: [(String, String, String)] = [
            ("KAJI_SLACK_USERS", "U1=approver", "KAJI_SLACK_USERS"),
            ("KAJI_SLACK_USERS", "T1/U1=boss", "KAJI_SLACK_USERS"),
            ("KAJI_SLACK_MANIFESTS", "/nonexistent/manifests", "KAJI_SLACK_MANIFESTS"),
            ("KAJI_SLACK_WEBHOOK_URL", "ftp://very-secret-path", "KAJI_SLACK_WEBHOOK_URL"),
            ("KAJI_SLACK_POLL_MS", "5", "KAJI_SLACK_POLL_MS"),
            ("KAJI_SLACK_ANSWER_MS", "3000", "KAJI_SLACK_ANSWER_MS"),
            ("KAJI_SLACK_SIGNING_SECRET_FILE", "/nonexistent/secret", "KAJI_SLACK_SIGNING_SECRET_FILE"),
        ]
        for (name, value, field) in cases {
            var environment = base
            if name == "KAJI_SLACK_SIGNING_SECRET_FILE" { environment = [:] }
            environment[name] = value
            do {
                _ = try SlackConfiguration.fromEnvironment(environment)
                Issue.record("\(name)=\(value) was taken")
            } catch let error as KajiError {
                #expect(error.field == field, "\(name): \(error)")
                #expect(!error.message.contains(Self.secret) && !error.message.contains("very-secret-path"), "\(error.message)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }
}
