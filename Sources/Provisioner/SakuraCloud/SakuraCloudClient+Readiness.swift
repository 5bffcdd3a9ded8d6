/// Single, non-sleeping readiness checks for the engine's `waitUntil` to poll.
extension SakuraCloudClient {
    /// One look at a disk: true when `available`, false while copying.
    /// - Throws: ``SakuraCloudError/Kind/diskCopyFailed(diskID:)`` (not retryable) when the copy `failed`.
    public func checkDiskAvailable(_ id: SakuraID) async throws -> DiskCheck {
        let disk = try await getDisk(id)
        if disk.availability == .failed {
            throw SakuraCloudError(kind: .diskCopyFailed(diskID: id), method: "GET", path: "/disk/\(id)", zone: zone)
        }
        return DiskCheck(ready: disk.availability == .available, disk: disk)
    }

    /// One look at a server: `ready` when its `Instance.Status` equals `status` (e.g. `.up` after power-on,
    /// `.down` after shutdown). For `.up` its `Availability` must also be `available`, as the SDK's
    /// `WaiterForUp` (iaas-api-go `state_functions.go`).
    public func checkServerStatus(_ id: SakuraID, is status: ServerStatus) async throws -> ServerCheck {
        let server = try await getServer(id)
        return ServerCheck(ready: status == .up ? server.isUp : server.status == status, server: server)
    }

    /// How many servers still use a switch (`GET /switch/{id}/server`, its `Count`), as the SDK's
    /// `cleanup.DeleteSwitch` checks before deleting (iaas-api-go `helper/cleanup/switch.go`,
    /// `helper/query/referenced.go` `findServerBySwitchID`). 0 when the switch is gone.
    public func serversOnSwitch(_ id: SakuraID) async throws -> Int {
        do {
            return try await send(.GET, "/switch/\(id)/server", query: FindQuery(), as: ListEnvelope<IgnoredBody>.self).items.count
        } catch let error as SakuraCloudError where error.isNotFound {
            return 0
        }
    }
}

/// The observation of ``SakuraCloudClient/checkDiskAvailable(_:)``.
public struct DiskCheck: Sendable {
    public var ready: Bool
    public var disk: SakuraDisk
    /// e.g. `migrating 10240/40960 MB`.
    public var summary: String {
        "\(disk.availability) \(disk.migratedMB ?? 0)/\(disk.sizeMB) MB"
    }
}

/// The observation of ``SakuraCloudClient/checkServerStatus(_:is:)``.
public struct ServerCheck: Sendable {
    public var ready: Bool
    public var server: SakuraServer
}
