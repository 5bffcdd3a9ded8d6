/// Interface add, connect to a switch or the shared segment, disconnect, delete.
extension SimState {
    func interfaceIn(_ request: SimRequest, _ id: String?) throws(SimAPIError) -> SimInterface {
        guard let id, let item = interfaces[id], item.zone == request.zone else {
            throw .notFound("interface \(id ?? "") in zone \(request.zone)")
        }
        return item
    }

    mutating func handleInterface(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        let path = request.path
        switch (request.method, path.count, path.count > 2 ? path[2] : "") {
        case ("POST", 1, _):
            try request.requireKeys(["Interface"])
            let body = try request.envelope("Interface")
            let server = try serverIn(request, body["Server"]?["ID"]?.idValue)
            guard server.power == .down else {
                throw .conflict("server_power_must_be_down", "server \(server.id) must be down to add an interface")
            }
            let nic = SimInterface(
                id: newID(), zone: request.zone, serverID: server.id, switchID: nil, macAddress: newMAC(),
                ipAddress: nil, userIPAddress: nil)
            interfaces[nic.id] = nic
            return .ok(["Interface": render(nic)], status: 201)
        case ("GET", 1, _):
            let items = interfaces.values.filter { $0.zone == request.zone }.sorted { $0.id < $1.id }.map(render)
            return SimReply(status: 200, body: try SimFind.run(items: items, query: request.query, listKey: "Interfaces"))
        case ("GET", 2, _):
            return .ok(["Interface": render(try interfaceIn(request, id(request)))])
        case ("DELETE", 2, _):
            let nic = try interfaceIn(request, id(request))
            if let server = servers[nic.serverID], server.power != .down {
                throw .conflict("server_power_must_be_down", "server \(server.id) must be down to remove an interface")
            }
            interfaces[nic.id] = nil
            return .ok(["Interface": render(nic)])
        case ("PUT", 5, "to") where path[3] == "switch":
            var nic = try interfaceIn(request, id(request))
            if nic.switchID != nil {
                throw .conflict("res_already_connected", "interface \(nic.id) is already connected to \(nic.switchID ?? "")")
            }
            let target = path[4]
            if target != "shared" {
                _ = try switchIn(request, target)
                if interfaces(of: nic.serverID).contains(where: { $0.switchID == target }) {
                    throw .conflict("connect_to_same_switch", "server \(nic.serverID) already has an interface on switch \(target)")
                }
            }
            nic.switchID = target
            if target == "shared" { nic.ipAddress = newSharedAddress() }
            interfaces[nic.id] = nic
            return .ok()
        case ("DELETE", 4, "to") where path[3] == "switch":
            var nic = try interfaceIn(request, id(request))
            if nic.switchID == nil {
                throw .conflict("res_already_disconnected", "interface \(nic.id) is not connected")
            }
            nic.switchID = nil
            nic.ipAddress = nil
            interfaces[nic.id] = nic
            return .ok()
        default:
            throw SimAPIError(
                status: 404, code: "resource_path_not_found",
                message: "no interface API at \(request.method) /\(path.joined(separator: "/"))")
        }
    }
}
