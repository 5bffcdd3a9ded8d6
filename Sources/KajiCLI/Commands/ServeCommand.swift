import ArgumentParser
import Engine
import Foundation
import Logging
import PostgresNIO
import Server
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) until SIGTERM.",
        discussion: """
            Callers send Authorization: Bearer TOKEN (kaji token create NAME --role viewer|operator|approver|admin). \
            Listens on loopback unless told otherwise; put a TLS proxy in front to serve other hosts. Several serve \
            processes, and workers, can share one database. SIGTERM or SIGINT: requests in flight finish, then exit 0. \
            Secrets routes need KAJI_SECRET_KEY (or KAJI_SECRET_KEY_FILE). Slack (POST /slack/commands, \
            /slack/interactions) needs KAJI_SLACK_SIGNING_SECRET (or KAJI_SLACK_SIGNING_SECRET_FILE); \
            KAJI_SLACK_USERS=TEAM/USER=role,… gives Slack users roles (others may only read); /kaji apply NAME reads \
            manifests from --slack-manifests (or KAJI_SLACK_MANIFESTS); KAJI_SLACK_WEBHOOK_URL takes the approval prompts \
            (and outcomes) of runs not started from Slack, and of Slack's once a response_url is used up (5 posts, \
            30 minutes); KAJI_SLACK_POLL_MS sets how often runs \
            started from Slack are read for progress (default 2000); KAJI_SLACK_ANSWER_MS how long a command may work \
            before its answer says the result follows (default 2500; Slack waits 3 s).
            """
    )

    @Option(name: .long, help: "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one).")
    var listen: String = "127.0.0.1:8080"

    @Option(name: .customLong("slack-manifests"), help: "Folder of cluster manifests for /kaji apply NAME, e.g. a git checkout (default: $KAJI_SLACK_MANIFESTS, else none).")
    var slackManifests: String?

    @OptionGroup var global: GlobalOptions

    func parsedListen() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port),
              colon > listen.startIndex else {
            throw ValidationError("--listen '\(listen)' must be HOST:PORT, e.g. 127.0.0.1:8080")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    func validate() throws { _ = try parsedListen() }

    func run() async throws {
        CLILogging.bootstrap(defaultLevel: .info)
        let logger = CLILogging.logger("kaji.serve")
        let (host, port) = try parsedListen()
        let config = try global.databaseConfig()
        try await Migrator(config: config, logger: logger).requireCurrent()
        let environment = ProcessInfo.processInfo.environment
        let keys: SecretKeyring?
        if environment["KAJI_SECRET_KEY"] != nil || environment["KAJI_SECRET_KEY_FILE"] != nil {
            keys = try SecretKeyring.fromEnvironment(environment)
        } else {
            keys = nil
        }
        let postgres = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let client = KajiClient(postgres: postgres, config: config, catalog: BuiltinWorkflows.catalog, logger: logger)
        let slack = try SlackConfiguration.fromEnvironment(environment, manifestDirectory: slackManifests)
        let server = KajiServer(client: client, keys: keys, slack: slack, logger: logger)
        let app = server.application(host: host, port: port) { bound in
            // One line on stdout, for people and for scripts that start the server on port 0.
            let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)"
            FileHandle.standardOutput.write(Data("kaji serve listening on \(url)\n".utf8))
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: postgres),
            .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        // Runs started from Slack: their progress and outcome go to Slack.
        if let slack { services.append(.init(service: SlackFollower(client: client, configuration: slack, logger: logger))) }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
