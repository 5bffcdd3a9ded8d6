/// Disk create (copy from an archive, with its edit), config, attach/detach, delete.
extension SimState {
    func diskIn(_ request: SimRequest, _ id: String?) throws(SimAPIError) -> SimDisk {
        guard let id, let item = disks[id], item.zone == request.zone else {
            throw .notFound("disk \(id ?? "") in zone \(request.zone)")
        }
        return item
    }

    mutating func handleDisk(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        let path = request.path
        switch (request.method, path.count, path.count > 2 ? path[2] : "") {
        case ("POST", 1, _):
            return try createDisk(request)
        case ("GET", 1, _):
            let items = disks.values.filter { $0.zone == request.zone }.sorted { $0.id < $1.id }
                .map { render($0, now: request.now) }
            return SimReply(status: 200, body: try SimFind.run(items: items, query: request.query, listKey: "Disks"))
        case ("GET", 2, _):
            return .ok(["Disk": render(try diskIn(request, id(request)), now: request.now)])
        case ("PUT", 2, _):
            try request.requireKeys(["Disk"])
            var item = try diskIn(request, id(request))
            let body = try request.envelope("Disk")
            if let name = body["Name"]?.stringValue { item.name = name }
            if let description = body["Description"]?.stringValue { item.description = description }
            if body["Tags"] != nil { item.tags = try body.tagList() }
            disks[item.id] = item
            return .ok(["Disk": render(item, now: request.now)])
        case ("DELETE", 2, _):
            let item = try diskIn(request, id(request))
            if item.availability == .migrating {
                throw .conflict("disk_is_copying", "disk \(item.id) is still copying")
            }
            if let serverID = item.serverID, let server = servers[serverID], server.power != .down {
                throw .conflict("server_power_must_be_down", "disk \(item.id) is attached to running server \(serverID)")
            }
            disks[item.id] = nil
            return .ok(["Disk": render(item, now: request.now)])
        case ("PUT", 3, "config"):
            var item = try diskIn(request, id(request))
            try request.requireKeys([
                "HostName", "Password", "SSHKey", "SSHKeys", "DisablePWAuth", "EnableDHCP", "ChangePartitionUUID",
                "Notes", "UserIPAddress", "UserSubnet", "Background",
            ])
            try requireUsable(item)
            try requireUserIPOnPrivateNIC(request.body ?? [:], serverID: item.serverID)
            item.config = try diskConfig(request.body ?? [:])
            newSSHKeys += item.config?.sshKeys ?? []
            disks[item.id] = item
            applyUserIP(of: item)
            return .ok()
        case ("PUT", 5, "to") where path[3] == "server":
            var item = try diskIn(request, id(request))
            try requireUsable(item)
            let server = try serverIn(request, path[4])
            if item.serverID != nil {
                throw .conflict("res_already_connected", "disk \(item.id) is already attached to server \(item.serverID ?? "")")
            }
            guard server.power == .down else {
                throw .conflict("server_power_must_be_down", "server \(server.id) must be down to attach a disk")
            }
            item.serverID = server.id
            disks[item.id] = item
            return .ok()
        case ("DELETE", 4, "to") where path[3] == "server":
            var item = try diskIn(request, id(request))
            guard let serverID = item.serverID else {
                throw .conflict("res_already_disconnected", "disk \(item.id) is not attached")
            }
            if let server = servers[serverID], server.power != .down {
                throw .conflict("server_power_must_be_down", "server \(serverID) must be down to detach a disk")
            }
            item.serverID = nil
            disks[item.id] = item
            return .ok()
        default:
            throw SimAPIError(
                status: 404, code: "resource_path_not_found",
                message: "no disk API at \(request.method) /\(path.joined(separator: "/"))")
        }
    }

    func requireUsable(_ disk: SimDisk) throws(SimAPIError) {
        switch disk.availability {
        case .migrating: throw .conflict("disk_is_copying", "disk \(disk.id) is still copying")
        case .failed: throw .conflict("disk_is_not_available", "disk \(disk.id) failed to copy")
        case .available: return
        }
    }

    func diskConfig(_ body: JSONValue) throws(SimAPIError) -> SimDiskConfig {
        var keys = body["SSHKeys"]?.arrayValue?.compactMap { $0["PublicKey"]?.stringValue ?? $0.stringValue } ?? []
        if let single = body["SSHKey"]?["PublicKey"]?.stringValue { keys.append(single) }
        if let host = body["HostName"]?.stringValue, host.isEmpty || host.contains(" ") {
            throw .badRequest("invalid_format", "HostName `\(host)` is not a valid host name")
        }
        return SimDiskConfig(
            hostName: body["HostName"]?.stringValue, sshKeys: keys,
            disablePasswordAuth: body["DisablePWAuth"]?.boolValue ?? false,
            hasPassword: body["Password"]?.stringValue?.isEmpty == false,
            userIPAddress: body["UserIPAddress"]?.stringValue, notes: body["Notes"]?.arrayValue ?? [])
    }

    /// A disk edit configures the server's first NIC (iaas-api-go `fake/ops_disk.go` `Config` applies it to
    /// `Interfaces[0]`); on the shared segment that NIC's address is the one SAKURA assigned, so a
    /// `UserIPAddress` there is refused (400 `invalid_format`).
    func requireUserIPOnPrivateNIC(_ config: JSONValue, serverID: String?) throws(SimAPIError) {
        guard let address = config["UserIPAddress"]?.stringValue, !address.isEmpty, let serverID,
            let first = interfaces(of: serverID).first, first.switchID == "shared"
        else { return }
        throw .badRequest(
            "invalid_format",
            "UserIPAddress \(address): the disk edit configures NIC 0 of server \(serverID), which is on the shared segment (its address is assigned by SAKURA Cloud); put the private switch on NIC 0")
    }

    /// The disk edit's `UserIPAddress` shows on the server's first interface.
    mutating func applyUserIP(of disk: SimDisk) {
        guard let serverID = disk.serverID, let address = disk.config?.userIPAddress,
            let first = interfaces(of: serverID).first
        else { return }
        interfaces[first.id]?.userIPAddress = address
    }

    mutating func createDisk(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        try request.requireKeys(["Disk", "Config", "BootAtAvailable", "DistantFrom"])
        let body = try request.envelope("Disk")
        let planID = body["Plan"]?["ID"]?.intValue ?? 4
        guard planID == 4 || planID == 2 else {
            throw .badRequest("param_res_not_found", "disk plan \(planID) does not exist; use 4 (SSD) or 2 (HDD)")
        }
        var sizeMB = body["SizeMB"]?.intValue ?? 20480
        var archiveID: String?
        if let source = body["SourceArchive"]?["ID"]?.idValue {
            guard let archive = archives[source], archive.zone == request.zone else {
                throw .badRequest("param_res_not_found", "source archive \(source) does not exist in zone \(request.zone)")
            }
            if body["SizeMB"] == nil { sizeMB = archive.sizeMB }
            guard sizeMB >= archive.sizeMB else {
                throw .badRequest("invalid_range", "SizeMB \(sizeMB) is smaller than the archive's \(archive.sizeMB)")
            }
            archiveID = archive.id
        }
        var serverID: String?
        if let target = body["Server"]?["ID"]?.idValue {
            let server = try serverIn(request, target)
            guard server.power == .down else {
                throw .conflict("server_power_must_be_down", "server \(server.id) must be down to attach a new disk")
            }
            serverID = server.id
        }
        let usedSize = disks.values.reduce(0) { $0 + $1.sizeMB }
        if usedSize + sizeMB > quotas.maxDiskSizeMB {
            throw .conflict("limit_size_in_account", "disk size quota of \(quotas.maxDiskSizeMB) MB would be exceeded")
        }
        var config: SimDiskConfig?
        if let configBody = request.body?["Config"], configBody != .null {
            try requireUserIPOnPrivateNIC(configBody, serverID: serverID)
            config = try diskConfig(configBody)
            newSSHKeys += config?.sshKeys ?? []
        }
        let copySeconds = archiveID == nil ? 0 : duration(profile.diskCopySeconds)
        let disk = SimDisk(
            id: newID(), zone: request.zone, name: body["Name"]?.stringValue ?? "",
            description: body["Description"]?.stringValue ?? "", tags: try body.tagList(), planID: planID,
            connection: body["Connection"]?.stringValue ?? "virtio", sizeMB: sizeMB, sourceArchiveID: archiveID,
            serverID: serverID, availability: .migrating, copyStartedAt: request.now,
            readyAt: request.now + copySeconds, willFail: failNextCopy,
            bootAtAvailable: request.body?["BootAtAvailable"]?.boolValue ?? false, config: config,
            createdAt: request.now)
        failNextCopy = false
        disks[disk.id] = disk
        applyUserIP(of: disk)
        var reply = SimReply.ok(["Disk": render(disk, now: request.now)], status: 202)
        reply.body = .object((reply.body.objectValue ?? [:]).merging(["Success": "Accepted"]) { _, new in new })
        return reply
    }
}
