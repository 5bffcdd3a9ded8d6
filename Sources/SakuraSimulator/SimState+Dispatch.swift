/// Routes an API call to the resource it addresses.
extension SimState {
    mutating func handle(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        settle(now: request.now)
        if request.method != "GET" { try request.requireNumericIDs() }
        let path = request.path
        guard let head = path.first else {
            throw SimAPIError(status: 404, code: "resource_path_not_found", message: "no resource at the zone root")
        }
        switch (request.method, head) {
        case ("GET", "auth-status") where path.count == 1:
            // Shape of iaas-api-go `naked/auth_status.go`: the account and member are nested objects.
            return SimReply(status: 200, body: [
                "Account": ["ID": "113000000001", "Name": "kaji-sim", "Code": "kajisim", "Class": "account"],
                "Member": ["Code": "kaji", "Class": "member"],
                "AuthClass": "account", "AuthMethod": "apikey", "IsAPIKey": true,
                "Permission": "create", "ExternalPermission": "bill+eventlog+cdn", "OperationPenalty": "none",
                "is_ok": true,
            ])
        case ("GET", "product") where path == ["product", "server"]:
            return SimReply(status: 200, body: serverPlans())
        case (_, "archive"):
            return try handleArchive(request)
        case (_, "switch"):
            return try handleSwitch(request)
        case (_, "server"):
            return try handleServer(request)
        case (_, "disk"):
            return try handleDisk(request)
        case (_, "interface"):
            return try handleInterface(request)
        default:
            throw SimAPIError(
                status: 404, code: "resource_path_not_found",
                message: "no API at \(request.method) /\(path.joined(separator: "/"))")
        }
    }

    static let planCPUs = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32]
    static let planMemoryGB = [1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256]

    func serverPlans() -> JSONValue {
        var plans: [JSONValue] = []
        for cpu in Self.planCPUs {
            for memory in Self.planMemoryGB where memory >= cpu && memory <= cpu * 16 {
                plans.append([
                    "ID": .number(Double(100_000_000 + cpu * 1000 + memory)),
                    "Name": .string("プラン/\(cpu)Core-\(memory)GB"), "CPU": .number(Double(cpu)),
                    "MemoryMB": .number(Double(memory * 1024)), "GPU": 0, "Generation": 200,
                    "Commitment": "standard", "Availability": "available",
                ])
            }
        }
        return [
            "Total": .number(Double(plans.count)), "From": 0, "Count": .number(Double(plans.count)),
            "ServerPlans": .array(plans), "is_ok": true,
        ]
    }

    func isPlan(cpu: Int, memoryMB: Int) -> Bool {
        let memory = memoryMB / 1024
        return memoryMB % 1024 == 0 && Self.planCPUs.contains(cpu) && Self.planMemoryGB.contains(memory)
            && memory >= cpu && memory <= cpu * 16
    }

    func id(_ request: SimRequest, at index: Int = 1) -> String? {
        request.path.count > index ? request.path[index] : nil
    }

    mutating func handleArchive(_ request: SimRequest) throws(SimAPIError) -> SimReply {
        let zoneArchives = archives.values.filter { $0.zone == request.zone }.sorted { $0.id < $1.id }
        switch (request.method, request.path.count) {
        case ("GET", 1):
            let body = try SimFind.run(items: zoneArchives.map(render), query: request.query, listKey: "Archives")
            return SimReply(status: 200, body: body)
        case ("GET", 2):
            guard let archive = zoneArchives.first(where: { $0.id == request.path[1] }) else {
                throw .notFound("archive \(request.path[1]) in zone \(request.zone)")
            }
            return .ok(["Archive": render(archive)])
        default:
            throw SimAPIError(status: 404, code: "resource_path_not_found", message: "archives are read-only here")
        }
    }
}
