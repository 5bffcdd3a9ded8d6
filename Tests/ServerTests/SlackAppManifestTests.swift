import Foundation
import KajiTesting
import Testing

@Suite("The Slack app manifest in docs/")
struct SlackAppManifestTests {
    @Test("docs/slack-app-manifest.yaml points the slash command and the buttons at the routes kaji serve has, with the commands scope")
    func manifest() throws {
        let path = TestEnvironment.repositoryRoot.appendingPathComponent("docs/slack-app-manifest.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        #expect(lines.contains("- command: /kaji"))
        #expect(lines.contains { $0.hasPrefix("url: https://") && $0.hasSuffix("/slack/commands") })
        #expect(lines.contains { $0.hasPrefix("request_url: https://") && $0.hasSuffix("/slack/interactions") })
        #expect(lines.contains("is_enabled: true"))
        #expect(lines.contains("- commands"))
    }
}
