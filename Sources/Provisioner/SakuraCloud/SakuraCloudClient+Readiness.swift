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
    /// `.down` after shutdown).
    public func checkServerStatus(_ id: SakuraID, is status: ServerStatus) async throws -> ServerCheck {
        let server = try await getServer(id)
        return ServerCheck(ready: server.status == status, server: server)
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
