import NIOCore
import NIOSSH
import Synchronization

/// Offers the client key once; fails the offer promise afterwards (succeeding with nil would hang).
final class PublicKeyAuthDelegate: NIOSSHClientUserAuthenticationDelegate, Sendable {
    private let user: String
    private let key: NIOSSHPrivateKey
    private let offered = Mutex(false)
    /// Set once the node refused the key.
    let rejected = Mutex(false)

    init(user: String, key: NIOSSHPrivateKey) {
        self.user = user
        self.key = key
    }

    func nextAuthenticationType(
        availableMethods: NIOSSHAvailableUserAuthenticationMethods,
        nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        let first = offered.withLock { offered in
            defer { offered = true }
            return !offered
        }
        guard first, availableMethods.contains(.publicKey) else {
            rejected.withLock { $0 = true }
            nextChallengePromise.fail(SSHError(kind: .authenticationFailed))
            return
        }
        nextChallengePromise.succeed(
            NIOSSHUserAuthenticationOffer(
                username: user, serviceName: "", offer: .privateKey(.init(privateKey: key))))
    }
}

/// Checks the host key against the known-hosts file; records a mismatch so the caller can report it.
final class PinnedHostKeyDelegate: NIOSSHClientServerAuthenticationDelegate, Sendable {
    private let knownHosts: KnownHostsFile
    private let name: String
    let mismatch = Mutex<SSHError.Kind?>(nil)

    init(knownHosts: KnownHostsFile, name: String) {
        self.knownHosts = knownHosts
        self.name = name
    }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        switch knownHosts.check(name: name, key: hostKey) {
        case .matches, .pinnedNow:
            validationCompletePromise.succeed(())
        case .changed(let pinned):
            let kind = SSHError.Kind.hostKeyChanged(
                pinned: pinned, presented: SSHFingerprint.of(hostKey), knownHostsPath: knownHosts.path)
            mismatch.withLock { $0 = kind }
            validationCompletePromise.fail(SSHError(kind: kind))
        }
    }
}

/// Closes the connection on any error after the SSH handler, so nothing waits for ever.
final class CloseOnErrorHandler: ChannelInboundHandler {
    typealias InboundIn = Any
    private let failure: EventLoopPromise<Void>

    init(failure: EventLoopPromise<Void>) {
        self.failure = failure
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failure.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}

/// Runs one command on a session channel: env requests, exec, stdin then EOF; gathers stdout, stderr and
/// the exit status until the channel closes.
final class ExecHandler: ChannelDuplexHandler {
    typealias InboundIn = SSHChannelData
    typealias InboundOut = SSHChannelData
    typealias OutboundIn = SSHChannelData
    typealias OutboundOut = SSHChannelData

    private let command: String
    private let environment: [String: String]
    private let input: String?
    private let result: EventLoopPromise<SSHCommandResult>
    private var stdout = ByteBuffer()
    private var stderr = ByteBuffer()
    private var exitStatus: Int?
    private var exitSignal: String?

    init(command: String, environment: [String: String], input: String?, result: EventLoopPromise<SSHCommandResult>) {
        self.command = command
        self.environment = environment
        self.input = input
        self.result = result
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).whenComplete { outcome in
            let (handler, context) = loopBound.value
            if case .failure(let error) = outcome {
                context.fireErrorCaught(error)
                return
            }
            handler.start(context: context)
        }
    }

    private func start(context: ChannelHandlerContext) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            context.triggerUserOutboundEvent(
                SSHChannelRequestEvent.EnvironmentRequest(wantReply: false, name: name, value: value), promise: nil)
        }
        context.triggerUserOutboundEvent(
            SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true), promise: nil)
        if let input, !input.isEmpty {
            let data = SSHChannelData(type: .channel, data: .byteBuffer(ByteBuffer(string: input)))
            context.write(wrapOutboundOut(data), promise: nil)
        }
        context.flush()
        context.close(mode: .output, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(var bytes) = message.data else { return }
        switch message.type {
        case .channel: stdout.writeBuffer(&bytes)
        case .stdErr: stderr.writeBuffer(&bytes)
        default: break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let status as SSHChannelRequestEvent.ExitStatus:
            exitStatus = status.exitStatus
        case let signal as SSHChannelRequestEvent.ExitSignal:
            exitSignal = signal.signalName
        case is ChannelFailureEvent:
            result.fail(SSHError(kind: .channelFailed("the node refused to run the command")))
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        result.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if exitStatus == nil && exitSignal == nil {
            result.fail(SSHError(kind: .channelFailed("the session closed without an exit status")))
        } else {
            result.succeed(
                SSHCommandResult(
                    exitStatus: exitStatus ?? -1, stdout: String(buffer: stdout), stderr: String(buffer: stderr),
                    signal: exitSignal))
        }
        context.fireChannelInactive()
    }
}
