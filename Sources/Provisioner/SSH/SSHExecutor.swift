import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSH

/// How an ``SSHExecutor`` connects.
public struct SSHConfiguration: Sendable {
    public var identity: SSHIdentity
    /// Host keys pinned on first contact; a changed key is a hard error.
    public var knownHosts: KnownHostsFile
    /// Time limit of one TCP connect; default 5 s.
    public var connectTimeout: Duration
    /// Connect attempts before giving up (connection failures only); default 3.
    public var connectAttempts: Int
    /// Wait between connect attempts, doubled each time; default 0.5 s.
    public var connectRetryWait: Duration

    public init(
        identity: SSHIdentity, knownHosts: KnownHostsFile, connectTimeout: Duration = .seconds(5),
        connectAttempts: Int = 3, connectRetryWait: Duration = .milliseconds(500)
    ) {
        self.identity = identity
        self.knownHosts = knownHosts
        self.connectTimeout = connectTimeout
        self.connectAttempts = connectAttempts
        self.connectRetryWait = connectRetryWait
    }
}

/// Runs commands on nodes over SSH (swift-nio-ssh, in process).
///
/// Why in-process NIOSSH rather than `/usr/bin/ssh`: the outcome is typed without parsing ssh's stderr
/// (a changed host key, a refused key, a refused connection and a remote exit status 255 are told apart),
/// the deadline closes the connection from the event loop, stdin is written to the channel (so a password
/// never appears in `ps`), and no OpenSSH client needs to be installed on the worker.
///
/// Each call opens one connection and one session. Connection failures are retried
/// (``SSHConfiguration/connectAttempts``); nothing is retried once the command may have started.
public final class SSHExecutor: Sendable {
    public let configuration: SSHConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    /// - Parameters:
    ///   - group: default `MultiThreadedEventLoopGroup.singleton`.
    ///   - logger: default label `kaji.ssh`; it logs endpoints and commands' first words, never keys or stdin.
    public init(
        configuration: SSHConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kaji.ssh")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Runs `command` on `endpoint` and returns its exit status, stdout and stderr (a non-zero status is a
    /// result, not an error).
    /// - Parameters:
    ///   - stdin: written to the command's standard input, then EOF; default none (EOF at once).
    ///   - deadline: for connecting and running together; default 60 s. When it passes, the connection is
    ///     closed and ``SSHError/Kind/timedOut(seconds:)`` thrown.
    public func run(
        _ command: String, on endpoint: SSHEndpoint, stdin: String? = nil, deadline: Duration = .seconds(60)
    ) async throws -> SSHCommandResult {
        let started = ContinuousClock.now
        let summary = Self.summary(of: command)
        let channel = try await connect(endpoint, summary: summary, until: started + deadline)
        defer { channel.close(promise: nil) }
        let remaining = started + deadline - ContinuousClock.now
        let result = channel.eventLoop.makePromise(of: SSHCommandResult.self)
        let timeout = channel.eventLoop.scheduleTask(in: Self.timeAmount(max(remaining, .zero))) {
            result.fail(SSHError(kind: .timedOut(seconds: Self.seconds(deadline)), endpoint: "\(endpoint)", command: summary))
            channel.close(promise: nil)
        }
        channel.eventLoop.execute {
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                let opened = channel.eventLoop.makePromise(of: Channel.self)
                opened.futureResult.whenFailure { result.fail($0) }
                handler.createChannel(opened, channelType: .session) { child, _ in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(
                            ExecHandler(
                                command: command, environment: endpoint.environment, input: stdin, result: result))
                    }
                }
            } catch {
                result.fail(error)
            }
        }
        channel.closeFuture.whenComplete { _ in
            result.fail(SSHError(kind: .channelFailed("the connection closed before the command finished")))
        }
        do {
            let value = try await result.futureResult.get()
            timeout.cancel()
            logger.debug("ssh command finished", metadata: ["endpoint": "\(endpoint)", "command": "\(summary)",
                                                           "status": "\(value.exitStatus)"])
            return value
        } catch let error as SSHError {
            timeout.cancel()
            var error = error
            if error.endpoint.isEmpty { error.endpoint = "\(endpoint)" }
            if error.command.isEmpty { error.command = summary }
            throw error
        } catch {
            timeout.cancel()
            throw SSHError(kind: .channelFailed(String(describing: error)), endpoint: "\(endpoint)", command: summary)
        }
    }

    /// Like ``run(_:on:stdin:deadline:)`` but throws ``SSHError/Kind/commandFailed(exitStatus:stderr:)`` on a
    /// non-zero exit status.
    public func runChecked(
        _ command: String, on endpoint: SSHEndpoint, stdin: String? = nil, deadline: Duration = .seconds(60)
    ) async throws -> SSHCommandResult {
        let result = try await run(command, on: endpoint, stdin: stdin, deadline: deadline)
        guard result.succeeded else {
            throw SSHError(
                kind: .commandFailed(exitStatus: result.exitStatus, stderr: result.stderr), endpoint: "\(endpoint)",
                command: Self.summary(of: command))
        }
        return result
    }

    /// Connects and authenticates, retrying connection failures only.
    func connect(_ endpoint: SSHEndpoint, summary: String, until deadline: ContinuousClock.Instant) async throws -> Channel {
        var wait = configuration.connectRetryWait
        var lastReason = ""
        let attempts = max(configuration.connectAttempts, 1)
        for attempt in 1...attempts {
            let hostKeys = PinnedHostKeyDelegate(knownHosts: configuration.knownHosts, name: endpoint.knownHostsName)
            let auth = PublicKeyAuthDelegate(user: endpoint.user, key: configuration.identity.privateKey)
            let channel: Channel
            do {
                channel = try await openConnection(endpoint, hostKeys: hostKeys, auth: auth)
            } catch {
                lastReason = String(describing: error)
                logger.debug("ssh connect failed", metadata: ["endpoint": "\(endpoint)", "attempt": "\(attempt)",
                                                             "reason": "\(lastReason)"])
                if attempt == attempts || ContinuousClock.now + wait >= deadline { break }
                try await Task.sleep(for: wait)
                wait = wait * 2
                continue
            }
            do {
                try await authenticated(channel, until: deadline)
                return channel
            } catch {
                channel.close(promise: nil)
                if let kind = hostKeys.mismatch.withLock({ $0 }) {
                    throw SSHError(kind: kind, endpoint: "\(endpoint)", command: summary)
                }
                if auth.rejected.withLock({ $0 }) {
                    throw SSHError(kind: .authenticationFailed, endpoint: "\(endpoint)", command: summary)
                }
                if let error = error as? SSHError {
                    throw SSHError(kind: error.kind, endpoint: "\(endpoint)", command: summary)
                }
                throw SSHError(kind: .channelFailed("handshake failed: \(error)"), endpoint: "\(endpoint)", command: summary)
            }
        }
        throw SSHError(
            kind: .connectFailed(attempts: attempts, reason: lastReason), endpoint: "\(endpoint)", command: summary)
    }

    private func openConnection(
        _ endpoint: SSHEndpoint, hostKeys: PinnedHostKeyDelegate, auth: PublicKeyAuthDelegate
    ) async throws -> Channel {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(Self.timeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let failure = channel.eventLoop.makePromise(of: Void.self)
                    failure.futureResult.whenFailure { _ in }
                    let ssh = NIOSSHHandler(
                        role: .client(.init(userAuthDelegate: auth, serverAuthDelegate: hostKeys)),
                        allocator: channel.allocator, inboundChildChannelInitializer: nil)
                    try channel.pipeline.syncOperations.addHandler(ssh)
                    try channel.pipeline.syncOperations.addHandler(CloseOnErrorHandler(failure: failure))
                }
            }
        return try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
    }

    /// Waits until the session is usable: opening a throwaway session channel proves the handshake and
    /// authentication are done (and surfaces their failure).
    private func authenticated(_ channel: Channel, until deadline: ContinuousClock.Instant) async throws {
        let opened = channel.eventLoop.makePromise(of: Channel.self)
        let remaining = max(deadline - ContinuousClock.now, .milliseconds(1))
        let timeout = channel.eventLoop.scheduleTask(in: Self.timeAmount(remaining)) {
            opened.fail(SSHError(kind: .timedOut(seconds: Self.seconds(remaining))))
        }
        channel.closeFuture.whenComplete { _ in
            opened.fail(SSHError(kind: .channelFailed("the node closed the connection during the handshake")))
        }
        channel.eventLoop.execute {
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                handler.createChannel(opened, channelType: .session) { child, _ in
                    child.eventLoop.makeSucceededVoidFuture()
                }
            } catch {
                opened.fail(error)
            }
        }
        defer { timeout.cancel() }
        let probe = try await opened.futureResult.get()
        try? await probe.close()
    }

    static func summary(of command: String) -> String {
        let words = command.split(separator: " ", omittingEmptySubsequences: true)
        let head = words.prefix(3).joined(separator: " ")
        return words.count > 3 ? head + " …" : head
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
