/// Server create/read/update/delete, power, reset and plan change.
extension SimState {
    func serverIn(_ request: SimRequest, _ id: String?) throws(SimAPIError) -> SimServer {
        guard let id, let item = servers[id], item.zone == request.zone else {
            throw .notFound("server \(id ?? "") in zone \(request.zone)")
        }
        return item
    }

    mutating func handleServer(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        let path = request.path
        switch (request.method, path.count, path.count > 2 ? path[2] : "") {
        case ("POST", 1, _):
            return try createServer(request)
        case ("GET", 1, _):
            let items = servers.values.filter { $0.zone == request.zone }.sorted { $0.id < $1.id }.map(render)
            return SimReply(status: 200, body: try SimFind.run(items: items, query: request.query, listKey: "Servers"))
        case ("GET", 2, _):
            return .ok(["Server": render(try serverIn(request, id(request)))])
        case ("PUT", 2, _):
            try request.requireKeys(["Server"])
            var item = try serverIn(request, id(request))
            let body = try request.envelope("Server")
            if let name = body["Name"]?.stringValue { item.name = name }
            if let description = body["Description"]?.stringValue { item.description = description }
            if body["Tags"] != nil { item.tags = try body.tagList() }
            servers[item.id] = item
            return .ok(["Server": render(item)])
        case ("DELETE", 2, _):
            return try deleteServer(request)
        case ("PUT", 3, "power"):
            try request.requireKeys(["UserBootVariables"])
            return try boot(request)
        case ("DELETE", 3, "power"):
            try request.requireKeys(["Force"])
            return try shutdown(request)
        case ("PUT", 3, "reset"):
            let item = try serverIn(request, id(request))
            guard item.power == .up else {
                throw .conflict("server_power_must_be_up", "server \(item.id) must be up to be reset")
            }
            return .ok()
        case ("PUT", 3, "plan"):
            return try changePlan(request)
        default:
            throw SimAPIError(
                status: 404, code: "resource_path_not_found",
                message: "no server API at \(request.method) /\(path.joined(separator: "/"))")
        }
    }

    mutating func createServer(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        try request.requireKeys(["Server"])
        let body = try request.envelope("Server")
        let plan = body["ServerPlan"]
        let cpu = plan?["CPU"]?.intValue ?? 1
        let memoryMB = plan?["MemoryMB"]?.intValue ?? 1024
        guard isPlan(cpu: cpu, memoryMB: memoryMB) else {
            throw .badRequest(
                "param_res_not_found", "no server plan with CPU \(cpu) and MemoryMB \(memoryMB); see GET /product/server")
        }
        if servers.count >= quotas.maxServers {
            throw .conflict("limit_count_in_account", "server quota of \(quotas.maxServers) reached")
        }
        let usedMemory = servers.values.reduce(0) { $0 + $1.memoryMB }
        if usedMemory + memoryMB > quotas.maxMemoryMB {
            throw .conflict("limit_memory_in_account", "memory quota of \(quotas.maxMemoryMB) MB would be exceeded")
        }
        let connected = body["ConnectedSwitches"]?.arrayValue ?? []
        var targets: [String?] = []
        for entry in connected {
            if entry == .null {
                targets.append(nil)
            } else if entry["Scope"]?.stringValue == "shared" {
                targets.append("shared")
            } else if let switchID = entry["ID"]?.idValue {
                guard let item = switches[switchID], item.zone == request.zone else {
                    throw .badRequest("param_res_not_found", "switch \(switchID) of ConnectedSwitches does not exist in zone \(request.zone)")
                }
                if targets.contains(switchID) {
                    throw .conflict("connect_to_same_switch", "two interfaces of one server cannot join switch \(switchID)")
                }
                targets.append(item.id)
            } else {
                throw .badRequest("invalid_format", "ConnectedSwitches entries are {\"Scope\":\"shared\"}, {\"ID\":...} or null")
            }
        }
        let server = SimServer(
            id: newID(), zone: request.zone, name: body["Name"]?.stringValue ?? "",
            description: body["Description"]?.stringValue ?? "", tags: try body.tagList(), cpu: cpu,
            memoryMB: memoryMB, commitment: plan?["Commitment"]?.stringValue ?? "standard",
            generation: plan?["Generation"]?.intValue ?? 200,
            interfaceDriver: body["InterfaceDriver"]?.stringValue ?? "virtio", power: .down,
            statusChangedAt: request.now, createdAt: request.now)
        servers[server.id] = server
        for target in targets {
            let nic = SimInterface(
                id: newID(), zone: request.zone, serverID: server.id, switchID: target, macAddress: newMAC(),
                ipAddress: target == "shared" ? newSharedAddress() : nil, userIPAddress: nil)
            interfaces[nic.id] = nic
        }
        return .ok(["Server": render(server)], status: 201)
    }

    mutating func deleteServer(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        try request.requireKeys(["WithDisk"])
        let item = try serverIn(request, id(request))
        guard item.power == .down else {
            throw .conflict("server_power_must_be_down", "server \(item.id) must be down to be deleted (it is \(item.power.apiStatus))")
        }
        let withDisk = Set(request.body?["WithDisk"]?.arrayValue?.compactMap(\.idValue) ?? [])
        for disk in attachedDisks(of: item.id) {
            if withDisk.contains(disk.id) {
                disks[disk.id] = nil
            } else {
                disks[disk.id]?.serverID = nil
            }
        }
        for nic in interfaces(of: item.id) { interfaces[nic.id] = nil }
        let rendered = render(item)
        servers[item.id] = nil
        return .ok(["Server": rendered])
    }

    mutating func checkPowerRate(_ request: SimRequest) throws(SimAPIError) {
        guard let limit = profile.powerCallsPerSecond else { return }
        recentPowerCalls = recentPowerCalls.filter { request.now - $0 < 1 }
        if recentPowerCalls.count >= limit {
            throw SimAPIError(status: 503, code: "busy", message: "対象サーバが多数です: too many parallel power calls")
        }
        recentPowerCalls.append(request.now)
    }

    mutating func boot(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        var item = try serverIn(request, id(request))
        try checkPowerRate(request)
        if attachedDisks(of: item.id).contains(where: { $0.availability == .migrating }) {
            throw .conflict("still_creating", "リソースの作成処理が進行中です: a disk of server \(item.id) is still copying")
        }
        switch item.power {
        case .up, .booting:
            throw .conflict("conflict", "server \(item.id) is already up or booting")
        case .cleaning:
            throw .conflict("server_is_cleaning", "server \(item.id) is shutting down")
        case .down:
            item.power = .booting(until: request.now + duration(profile.bootSeconds))
            servers[item.id] = item
            return .ok()
        }
    }

    mutating func shutdown(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        var item = try serverIn(request, id(request))
        try checkPowerRate(request)
        switch item.power {
        case .down, .booting:
            throw .conflict("server_power_must_be_up", "server \(item.id) is not up")
        case .cleaning:
            throw .conflict("server_is_cleaning", "server \(item.id) is already shutting down")
        case .up:
            let force = request.body?["Force"]?.boolValue ?? false
            let seconds = force ? profile.shutdownSeconds.lowerBound / 2 : duration(profile.shutdownSeconds)
            item.power = .cleaning(until: request.now + seconds)
            item.statusChangedAt = request.now
            servers[item.id] = item
            return .ok()
        }
    }

    mutating func changePlan(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        try request.requireKeys(["CPU", "MemoryMB", "GPU", "ServerPlanGeneration", "ServerPlanCommitment"])
        let old = try serverIn(request, id(request))
        guard old.power == .down else {
            throw .conflict("server_power_must_be_down", "server \(old.id) must be down to change its plan")
        }
        let cpu = request.body?["CPU"]?.intValue ?? old.cpu
        let memoryMB = request.body?["MemoryMB"]?.intValue ?? old.memoryMB
        guard isPlan(cpu: cpu, memoryMB: memoryMB) else {
            throw .badRequest("param_res_not_found", "no server plan with CPU \(cpu) and MemoryMB \(memoryMB)")
        }
        var server = old
        server.id = newID()
        server.cpu = cpu
        server.memoryMB = memoryMB
        servers[old.id] = nil
        servers[server.id] = server
        for disk in attachedDisks(of: old.id) { disks[disk.id]?.serverID = server.id }
        for nic in interfaces(of: old.id) { interfaces[nic.id]?.serverID = server.id }
        return .ok(["Server": render(server)])
    }
}
