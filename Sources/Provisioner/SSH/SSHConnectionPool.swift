import NIOCore

/// One authenticated connection per node (host, port, user), shared by concurrent commands as separate
/// session channels. A closed connection leaves the pool by itself.
actor SSHConnectionPool {
    struct Key: Hashable {
        var host: String
        var port: Int
        var user: String

        init(_ endpoint: SSHEndpoint) {
            host = endpoint.host
            port = endpoint.port
            user = endpoint.user
        }
    }

    private var connections: [Key: any Channel] = [:]
    private var pending: [Key: Task<any Channel, any Error>] = [:]

    /// The pooled connection to `endpoint`, or a new one from `connect`; `fresh` tells which.
    func connection(
        for endpoint: SSHEndpoint, connect: @escaping @Sendable () async throws -> any Channel
    ) async throws -> (channel: any Channel, fresh: Bool) {
        let key = Key(endpoint)
        if let channel = connections[key], channel.isActive {
            return (channel, false)
        }
        if let task = pending[key] {
            return (try await task.value, true)
        }
        let task = Task { try await connect() }
        pending[key] = task
        defer { pending[key] = nil }
        let channel = try await task.value
        connections[key] = channel
        channel.closeFuture.whenComplete { _ in
            Task { await self.forget(key, channel) }
        }
        return (channel, true)
    }

    /// Drops `channel` from the pool and closes it.
    func evict(_ endpoint: SSHEndpoint, _ channel: any Channel) {
        forget(Key(endpoint), channel)
        channel.close(promise: nil)
    }

    private func forget(_ key: Key, _ channel: any Channel) {
        if let current = connections[key], current === channel {
            connections[key] = nil
        }
    }

    /// Closes every pooled connection.
    func closeAll() async {
        let all = Array(connections.values)
        connections = [:]
        for channel in all {
            try? await channel.close()
        }
    }
}
