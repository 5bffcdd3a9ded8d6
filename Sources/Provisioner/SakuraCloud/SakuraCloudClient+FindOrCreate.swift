/// A resource found by its operation tag, or created.
public struct Adopted<Resource: Sendable>: Sendable {
    public var resource: Resource
    /// True when it already existed (an earlier attempt created it); false when this call created it.
    public var adopted: Bool
}

/// Creates that never make a resource twice: each looks its `kaji-op` tag up first, and again after a lost
/// or failed answer, adopting what exists.
extension SakuraCloudClient {
    /// Looks `operation`'s tag up with `find`; returns the oldest match, or calls `create` (which must add the
    /// tag). When `create` fails in a way that may have run or is retryable (transport error, 5xx, 423,
    /// 429), waits per the retry policy and looks again before creating again. Final errors (400, 401, 404,
    /// 409) are thrown at once.
    public func findOrCreate<Resource: Sendable>(
        operation: OperationTag,
        find: @Sendable () async throws -> [Resource],
        create: @Sendable () async throws -> Resource
    ) async throws -> Adopted<Resource> {
        var retries = 0
        while true {
            if let existing = try await find().first {
                return Adopted(resource: existing, adopted: true)
            }
            do {
                return Adopted(resource: try await create(), adopted: false)
            } catch var error as SakuraCloudError where error.isRetryable || error.mayHaveRun {
                guard retries < configuration.retry.maxRetries else {
                    error.attempts = retries + 1
                    if let existing = try? await find().first {
                        return Adopted(resource: existing, adopted: true)
                    }
                    throw error
                }
                logger.debug(
                    "create failed; looking the operation tag up before trying again",
                    metadata: ["operation": "\(operation.tag)", "error": "\(error)"])
                try await Task.sleep(
                    for: configuration.retry.wait(beforeRetry: retries, retryAfterSeconds: error.retryAfterSeconds))
                retries += 1
            }
        }
    }

    /// A switch tagged with `operation`, found or created.
    public func findOrCreateSwitch(_ spec: SwitchSpec, operation: OperationTag) async throws -> Adopted<SakuraSwitch> {
        var tagged = spec
        tagged.tags = operation.adding(to: spec.tags)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findSwitches(.tagged(operation.tag)).sorted { $0.id.rawValue < $1.id.rawValue } },
            create: { try await self.createSwitch(send) })
    }

    /// A server tagged with `operation`, found or created.
    public func findOrCreateServer(_ spec: ServerSpec, operation: OperationTag) async throws -> Adopted<SakuraServer> {
        var tagged = spec
        tagged.tags = operation.adding(to: spec.tags)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findServers(.tagged(operation.tag)).sorted { $0.id.rawValue < $1.id.rawValue } },
            create: { try await self.createServer(send) })
    }

    /// A disk tagged with `operation`, found or created.
    public func findOrCreateDisk(_ spec: DiskSpec, operation: OperationTag) async throws -> Adopted<SakuraDisk> {
        var tagged = spec
        tagged.tags = operation.adding(to: spec.tags)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findDisks(.tagged(operation.tag)).sorted { $0.id.rawValue < $1.id.rawValue } },
            create: { try await self.createDisk(send) })
    }
}
