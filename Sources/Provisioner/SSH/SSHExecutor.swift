import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSH

/// Runs commands on nodes over SSH (swift-nio-ssh, in process).
///
/// Why in-process NIOSSH rather than `/usr/bin/ssh`: the outcome is typed without parsing ssh's stderr
/// (a changed host key, a refused key, a refused connection and a remote exit status 255 are told apart),
/// the deadline closes the connection from the event loop, stdin is written to the channel (so a password
/// never appears in `ps`), and no OpenSSH client needs to be installed on the worker.
///
/// Each node gets one connection (kept for later calls unless ``SSHConfiguration/reuseConnections`` is off);
/// each command runs in its own session channel. Connection failures are retried
/// (``SSHConfiguration/connectAttempts``), and a stale pooled connection is replaced once when no session can
/// be opened on it; nothing is retried once the command may have started. A missed deadline closes that
/// node's connection. (An sshd limits sessions per connection, 10 by default: keep concurrent commands per
/// node below that.)
public final class SSHExecutor: Sendable {
    public let configuration: SSHConfiguration
    let group: any EventLoopGroup
    let logger: Logger
    let pool = SSHConnectionPool()

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
        try await run(command, on: endpoint, stdin: stdin, deadline: deadline, connectAttempts: nil)
    }

    func run(
        _ command: String, on endpoint: SSHEndpoint, stdin: String?, deadline: Duration, connectAttempts: Int?
    ) async throws -> SSHCommandResult {
        let until = ContinuousClock.now + deadline
        let summary = Self.summary(of: command)
        var attempt = 0
        while true {
            attempt += 1
            let (channel, fresh) = try await pool.connection(for: endpoint) {
                try await self.connect(endpoint, summary: summary, until: until, attempts: connectAttempts)
            }
            do {
                let result = try await execute(
                    command, on: channel, endpoint: endpoint, stdin: stdin, deadline: deadline, until: until)
                if !configuration.reuseConnections { await pool.evict(endpoint, channel) }
                return result
            } catch let error as SessionNotOpened {
                // The command never started: a stale pooled connection is replaced once.
                await pool.evict(endpoint, channel)
                if fresh || attempt > 1 {
                    throw SSHError(kind: .channelFailed("could not open a session: \(error.reason)"), endpoint: "\(endpoint)", command: summary)
                }
            } catch {
                await pool.evict(endpoint, channel)
                throw error
            }
        }
    }

    /// Closes pooled connections. Later calls connect again.
    public func closeConnections() async {
        await pool.closeAll()
    }

    /// The session channel could not be opened; nothing ran.
    struct SessionNotOpened: Error {
        var reason: String
    }

    /// Opens one session channel on `channel` and runs `command` in it.
    private func execute(
        _ command: String, on channel: any Channel, endpoint: SSHEndpoint, stdin: String?, deadline: Duration,
        until: ContinuousClock.Instant
    ) async throws -> SSHCommandResult {
        let summary = Self.summary(of: command)
        let remaining = max(until - ContinuousClock.now, .zero)
        let opened = channel.eventLoop.makePromise(of: Channel.self)
        let result = channel.eventLoop.makePromise(of: SSHCommandResult.self)
        let timedOut = SSHError(kind: .timedOut(seconds: Self.seconds(deadline)), endpoint: "\(endpoint)", command: summary)
        let timeout = channel.eventLoop.scheduleTask(in: Self.timeAmount(remaining)) {
            opened.fail(timedOut)
            result.fail(timedOut)
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        channel.eventLoop.execute {
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                handler.createChannel(opened, channelType: .session) { child, _ in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(
                            ExecHandler(
                                command: command, environment: endpoint.environment, input: stdin, result: result))
                    }
                }
            } catch {
                opened.fail(error)
            }
        }
        do {
            _ = try await opened.futureResult.get()
        } catch let error as SSHError {
            throw error
        } catch {
            throw SessionNotOpened(reason: String(describing: error))
        }
        do {
            let value = try await result.futureResult.get()
            logger.debug("ssh command finished", metadata: ["endpoint": "\(endpoint)", "command": "\(summary)",
                                                           "status": "\(value.exitStatus)"])
            return value
        } catch let error as SSHError {
            var error = error
            if error.endpoint.isEmpty { error.endpoint = "\(endpoint)" }
            if error.command.isEmpty { error.command = summary }
            throw error
        } catch {
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
    func connect(
        _ endpoint: SSHEndpoint, summary: String, until deadline: ContinuousClock.Instant, attempts: Int? = nil
    ) async throws -> Channel {
        var wait = configuration.connectRetryWait
        var lastReason = ""
        let attempts = max(attempts ?? configuration.connectAttempts, 1)
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
