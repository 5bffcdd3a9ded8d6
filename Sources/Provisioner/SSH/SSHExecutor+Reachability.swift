extension SSHExecutor {
    /// One look, without retries or sleeps, for the engine's `waitUntil("ssh-ready")`: true when `true` runs
    /// on `endpoint` now; false while the node refuses connections, times out, or does not accept the key
    /// yet (a booting node).
    /// - Parameter deadline: default 5 s.
    /// - Throws: ``SSHError/Kind/hostKeyChanged(pinned:presented:knownHostsPath:)``, which waiting cannot fix.
    public func checkReachable(_ endpoint: SSHEndpoint, deadline: Duration = .seconds(5)) async throws -> Bool {
        do {
            let result = try await run("true", on: endpoint, stdin: nil, deadline: deadline, connectAttempts: 1)
            return result.succeeded
        } catch let error as SSHError {
            if case .hostKeyChanged = error.kind { throw error }
            return false
        }
    }
}
