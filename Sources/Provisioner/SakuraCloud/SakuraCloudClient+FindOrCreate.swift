import Foundation

/// A resource found by its operation tag, or created.
public struct Adopted<Resource: Sendable>: Sendable {
    public var resource: Resource
    /// True when it already existed (an earlier attempt created it); false when this call created it.
    public var adopted: Bool
    /// Resources of the same operation tag found beside the kept one and deleted (a zombie attempt that
    /// created at the same time). Default 0.
    public var removedDuplicates: Int = 0
}

/// A resource that ``SakuraCloudClient/findOrCreate(operation:find:create:remove:)`` can order by age.
public protocol SakuraTaggedResource: Sendable {
    var id: SakuraID { get }
    /// `CreatedAt` as the API gave it (ISO 8601 with offset), nil when absent.
    var createdAt: String? { get }
}

extension SakuraTaggedResource {
    /// Oldest first: by `CreatedAt`, then by ID (IDs grow with time).
    static func oldestFirst(_ left: Self, _ right: Self) -> Bool {
        let leftDate = left.createdAt.flatMap(SakuraTimestamp.parse), rightDate = right.createdAt.flatMap(SakuraTimestamp.parse)
        if let leftDate, let rightDate, leftDate != rightDate { return leftDate < rightDate }
        return (left.id.int64Value ?? .max, left.id.rawValue) < (right.id.int64Value ?? .max, right.id.rawValue)
    }
}

/// Creates that never make a resource twice: each looks its `kaji-op` tag up first, and again after a lost
/// or failed answer, adopting what exists; and after its own create it looks once more, so that when a
/// zombie attempt of the same step (a worker that lost its lease) created at the same time, exactly one
/// resource is kept: the oldest. The newer ones are deleted, whichever attempt made them.
extension SakuraCloudClient {
    /// Looks `operation`'s tag up with `find`; returns the oldest match, or calls `create` (which must add the
    /// tag) and then looks again. When `create` fails in a way that may have run or is retryable (transport
    /// error, 5xx, 423), waits per the retry policy and looks again before creating again. Final errors
    /// (400, 401, 404, 409, 429) are thrown at once.
    /// - Parameter remove: deletes one duplicate. A failure (e.g. a disk still copying, 409
    ///   `disk_is_copying`) is thrown: the caller's step retries, finds both again and removes the extra then.
    public func findOrCreate<Resource: SakuraTaggedResource>(
        operation: OperationTag,
        find: @Sendable () async throws -> [Resource],
        create: @Sendable () async throws -> Resource,
        remove: @Sendable (Resource) async throws -> Void
    ) async throws -> Adopted<Resource> {
        var retries = 0
        while true {
            let existing = try await find()
            if !existing.isEmpty {
                return try await keepOldest(existing, created: nil, operation: operation, remove: remove)
            }
            do {
                let created = try await create()
                // A zombie attempt of this step may have created too: keep the oldest of the tag.
                var found = try await find()
                if !found.contains(where: { $0.id == created.id }) { found.append(created) }
                return try await keepOldest(found, created: created.id, operation: operation, remove: remove)
            } catch var error as SakuraCloudError where error.isRetryable || error.mayHaveRun {
                guard retries < configuration.retry.maxRetries else {
                    error.attempts = retries + 1
                    if let existing = try? await find(), !existing.isEmpty {
                        return try await keepOldest(existing, created: nil, operation: operation, remove: remove)
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

    private func keepOldest<Resource: SakuraTaggedResource>(
        _ found: [Resource], created: SakuraID?, operation: OperationTag, remove: @Sendable (Resource) async throws -> Void
    ) async throws -> Adopted<Resource> {
        let sorted = found.sorted(by: Resource.oldestFirst)
        guard let oldest = sorted.first else {
            throw SakuraCloudError(kind: .invalidResponse("no resource tagged \(operation.tag)"), zone: zone)
        }
        for extra in sorted.dropFirst() {
            logger.notice(
                "two resources carry one operation tag; keeping the oldest, deleting the newer",
                metadata: ["operation": "\(operation.tag)", "kept": "\(oldest.id)", "deleted": "\(extra.id)"])
            try await remove(extra)
        }
        return Adopted(resource: oldest, adopted: created != oldest.id, removedDuplicates: sorted.count - 1)
    }

    func checkedTags(_ tags: [String], operation: OperationTag, path: String) throws -> [String] {
        let tagged = operation.adding(to: tags)
        if let problem = SakuraTags.problem(tagged) {
            throw SakuraCloudError(kind: .configuration("tags of POST \(path): \(problem)"), method: "POST", path: path, zone: zone)
        }
        return tagged
    }

    /// A switch tagged with `operation`, found or created.
    public func findOrCreateSwitch(_ spec: SwitchSpec, operation: OperationTag) async throws -> Adopted<SakuraSwitch> {
        var tagged = spec
        tagged.tags = try checkedTags(spec.tags, operation: operation, path: "/switch")
        tagged.description = operation.describing(spec.description)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findSwitches(.tagged(operation.tag)) },
            create: { try await self.createSwitch(send) },
            remove: { try await self.deleteSwitch($0.id) })
    }

    /// A server tagged with `operation`, found or created. A duplicate is deleted (it is new, so down).
    public func findOrCreateServer(_ spec: ServerSpec, operation: OperationTag) async throws -> Adopted<SakuraServer> {
        var tagged = spec
        tagged.tags = try checkedTags(spec.tags, operation: operation, path: "/server")
        tagged.description = operation.describing(spec.description)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findServers(.tagged(operation.tag)) },
            create: { try await self.createServer(send) },
            remove: { try await self.deleteServer($0.id) })
    }

    /// A disk tagged with `operation`, found or created. A duplicate is deleted once its copy ends (until
    /// then the API answers 409 `disk_is_copying`, which this throws for the step to retry).
    public func findOrCreateDisk(_ spec: DiskSpec, operation: OperationTag) async throws -> Adopted<SakuraDisk> {
        var tagged = spec
        tagged.tags = try checkedTags(spec.tags, operation: operation, path: "/disk")
        tagged.description = operation.describing(spec.description)
        let send = tagged
        return try await findOrCreate(
            operation: operation,
            find: { try await self.findDisks(.tagged(operation.tag)) },
            create: { try await self.createDisk(send) },
            remove: { try await self.deleteDisk($0.id) })
    }
}

/// SAKURA Cloud's timestamps, `2026-01-01T09:00:00+09:00`.
enum SakuraTimestamp {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
