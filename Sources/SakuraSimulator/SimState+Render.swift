import Foundation

/// JSON shapes of the simulated resources, following the field names of SAKURA Cloud's API.
extension SimState {
    /// Virtual time 0 is 2026-01-01T00:00:00+09:00.
    static let epoch: Double = 1_767_193_200

    static func timestamp(_ seconds: Double) -> JSONValue {
        var calendar = Calendar(identifier: .gregorian)
        let zone = TimeZone(secondsFromGMT: 9 * 3600) ?? .current
        calendar.timeZone = zone
        let date = Date(timeIntervalSince1970: epoch + seconds)
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d+09:00", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        return .string(text)
    }

    static func zoneJSON(_ zone: String) -> JSONValue {
        let ids = ["is1a": 31001, "is1b": 31002, "is1c": 31003, "tk1a": 21001, "tk1b": 21002, "tk1v": 29001]
        return ["ID": .number(Double(ids[zone] ?? 0)), "Name": .string(zone)]
    }

    static func tags(_ tags: [String]) -> JSONValue {
        .array(tags.map { .string($0) })
    }

    func render(_ item: SimSwitch) -> JSONValue {
        let count = Set(interfaces.values.filter { $0.switchID == item.id }.map(\.serverID)).count
        return [
            "ID": .string(item.id), "Name": .string(item.name), "Description": .string(item.description),
            "Tags": Self.tags(item.tags), "Scope": "user", "ServerCount": .number(Double(count)),
            "ApplianceCount": 0, "CreatedAt": Self.timestamp(item.createdAt), "Subnets": [],
            "UserSubnet": nil, "Zone": Self.zoneJSON(item.zone),
        ]
    }

    func render(_ item: SimInterface) -> JSONValue {
        let switchJSON: JSONValue
        switch item.switchID {
        case nil: switchJSON = .null
        case "shared"?: switchJSON = ["ID": "shared", "Scope": "shared"]
        case let id?: switchJSON = ["ID": .string(id), "Scope": "user", "Name": .string(switches[id]?.name ?? "")]
        }
        return [
            "ID": .string(item.id), "MACAddress": .string(item.macAddress),
            "IPAddress": item.ipAddress.map { .string($0) } ?? .null,
            "UserIPAddress": item.userIPAddress.map { .string($0) } ?? .null,
            "Switch": switchJSON, "Server": ["ID": .string(item.serverID)],
        ]
    }

    func render(_ item: SimServer) -> JSONValue {
        let disksJSON: [JSONValue] = attachedDisks(of: item.id).map {
            ["ID": .string($0.id), "Name": .string($0.name), "Availability": .string($0.availability.rawValue),
             "SizeMB": .number(Double($0.sizeMB))]
        }
        var json: [String: JSONValue] = [
            "ID": .string(item.id), "Name": .string(item.name), "Description": .string(item.description),
            "Tags": Self.tags(item.tags), "HostName": .string(hostName(of: item)),
            "InterfaceDriver": .string(item.interfaceDriver), "Availability": "available",
            "ServerPlan": [
                "ID": .number(Double(item.generation * 1_000_000 + item.cpu * 1000 + item.memoryMB / 1024)),
                "CPU": .number(Double(item.cpu)), "MemoryMB": .number(Double(item.memoryMB)),
                "GPU": 0, "Generation": .number(Double(item.generation)), "Commitment": .string(item.commitment),
            ],
            "Instance": [
                "Status": .string(item.power.apiStatus), "StatusChangedAt": Self.timestamp(item.statusChangedAt),
                "Host": ["Name": "sim-host-1"],
            ],
            "Interfaces": .array(interfaces(of: item.id).map(render)),
            "Disks": .array(disksJSON), "CreatedAt": Self.timestamp(item.createdAt), "Zone": Self.zoneJSON(item.zone),
        ]
        if let nodes {
            json["KajiSim"] = [
                "SSHHost": .string(nodes.host), "SSHPort": .number(Double(nodes.port)),
                "World": .string(nodes.world), "Node": .string(hostName(of: item)),
            ]
        }
        return .object(json)
    }

    /// The host name the disk edit gave the server, else the server's name.
    func hostName(of server: SimServer) -> String {
        attachedDisks(of: server.id).compactMap { $0.config?.hostName }.first ?? server.name
    }

    func render(_ item: SimDisk, now: Double) -> JSONValue {
        var migrated = item.sizeMB
        if item.availability == .migrating {
            let total = max(item.readyAt - item.copyStartedAt, 0.001)
            let fraction = min(max((now - item.copyStartedAt) / total, 0), 1)
            migrated = Int(Double(item.sizeMB) * fraction)
        }
        return [
            "ID": .string(item.id), "Name": .string(item.name), "Description": .string(item.description),
            "Tags": Self.tags(item.tags), "Availability": .string(item.availability.rawValue),
            "Plan": ["ID": .number(Double(item.planID))], "Connection": .string(item.connection),
            "SizeMB": .number(Double(item.sizeMB)), "MigratedMB": .number(Double(migrated)),
            "SourceArchive": item.sourceArchiveID.map { ["ID": .string($0)] } ?? .null,
            "Server": item.serverID.map { ["ID": .string($0)] } ?? .null,
            "CreatedAt": Self.timestamp(item.createdAt), "Zone": Self.zoneJSON(item.zone),
        ]
    }

    func render(_ item: SimArchive) -> JSONValue {
        [
            "ID": .string(item.id), "Name": .string(item.name), "Tags": Self.tags(item.tags), "Scope": "shared",
            "Availability": "available", "SizeMB": .number(Double(item.sizeMB)), "Zone": Self.zoneJSON(item.zone),
        ]
    }

    /// The whole store, for `GET /_fake/state`.
    func dump(now: Double) -> JSONValue {
        func withZone(_ value: JSONValue, _ zone: String) -> JSONValue {
            guard var members = value.objectValue else { return value }
            members["Zone"] = .string(zone)
            return .object(members)
        }
        return [
            "Now": .number(now),
            "Switches": .array(switches.values.sorted { $0.id < $1.id }.map { withZone(render($0), $0.zone) }),
            "Servers": .array(servers.values.sorted { $0.id < $1.id }.map { withZone(render($0), $0.zone) }),
            "Disks": .array(disks.values.sorted { $0.id < $1.id }.map { withZone(render($0, now: now), $0.zone) }),
            "Interfaces": .array(interfaces.values.sorted { $0.id < $1.id }.map { withZone(render($0), $0.zone) }),
        ]
    }
}
