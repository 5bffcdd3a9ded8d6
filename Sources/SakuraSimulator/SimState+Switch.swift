/// Switch CRUD and `GET /switch/{id}/server`.
extension SimState {
    func switchIn(_ request: SimRequest, _ id: String?) throws(SimAPIError) -> SimSwitch {
        guard let id, let item = switches[id], item.zone == request.zone else {
            throw .notFound("switch \(id ?? "") in zone \(request.zone)")
        }
        return item
    }

    mutating func handleSwitch(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        switch (request.method, request.path.count) {
        case ("POST", 1):
            try request.requireKeys(["Switch"])
            let body = try request.envelope("Switch")
            if switches.count >= quotas.maxSwitches {
                throw .conflict("limit_count_in_account", "switch quota of \(quotas.maxSwitches) reached")
            }
            let item = SimSwitch(
                id: newID(), zone: request.zone, name: body["Name"]?.stringValue ?? "",
                description: body["Description"]?.stringValue ?? "", tags: try body.tagList(), createdAt: request.now)
            switches[item.id] = item
            return .ok(["Switch": render(item)], status: 201)
        case ("GET", 1):
            let items = switches.values.filter { $0.zone == request.zone }.sorted { $0.id < $1.id }.map(render)
            return SimReply(status: 200, body: try SimFind.run(items: items, query: request.query, listKey: "Switches"))
        case ("GET", 2):
            return .ok(["Switch": render(try switchIn(request, id(request)))])
        case ("PUT", 2):
            try request.requireKeys(["Switch"])
            var item = try switchIn(request, id(request))
            let body = try request.envelope("Switch")
            if let name = body["Name"]?.stringValue { item.name = name }
            if let description = body["Description"]?.stringValue { item.description = description }
            if body["Tags"] != nil { item.tags = try body.tagList() }
            switches[item.id] = item
            return .ok(["Switch": render(item)])
        case ("DELETE", 2):
            let item = try switchIn(request, id(request))
            if interfaces.values.contains(where: { $0.switchID == item.id }) {
                throw .conflict("res_used_in_zone", "switch \(item.id) is still connected to server interfaces")
            }
            switches[item.id] = nil
            return .ok(["Switch": render(item)])
        case ("GET", 3) where request.path[2] == "server":
            let item = try switchIn(request, id(request))
            let serverIDs = Set(interfaces.values.filter { $0.switchID == item.id }.map(\.serverID))
            let items = serverIDs.sorted().compactMap { servers[$0] }.map(render)
            return SimReply(status: 200, body: try SimFind.run(items: items, query: request.query, listKey: "Servers"))
        default:
            throw SimAPIError(
                status: 404, code: "resource_path_not_found",
                message: "no switch API at \(request.method) /\(request.path.joined(separator: "/"))")
        }
    }
}
