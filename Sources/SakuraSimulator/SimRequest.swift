/// One API call as the state machine sees it: zone, path below the zone root, parsed query and body.
struct SimRequest: Sendable {
    var method: String
    var zone: String
    var path: [String]
    var query: JSONValue?
    var body: JSONValue?
    var now: Double

    /// Rejects top-level body keys the endpoint does not know (400 `invalid_format`).
    func requireKeys(_ allowed: Set<String>) throws(SimAPIError) {
        guard let body else { return }
        guard let members = body.objectValue else {
            throw .badRequest("invalid_format", "request body must be a JSON object")
        }
        let unknown = Set(members.keys).subtracting(allowed)
        if !unknown.isEmpty {
            throw .badRequest(
                "invalid_format",
                "unknown key(s) \(unknown.sorted().joined(separator: ", ")); expected \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// The envelope member `key` (e.g. `Server` of `{"Server":{...}}`), required.
    func envelope(_ key: String) throws(SimAPIError) -> JSONValue {
        guard let value = body?[key], value.objectValue != nil else {
            throw .badRequest("missing_param", "request body must wrap the resource in {\"\(key)\":{...}}")
        }
        return value
    }
}

/// The answer of the state machine: HTTP status and JSON body.
struct SimReply: Sendable {
    var status: Int
    var body: JSONValue

    static func ok(_ members: [String: JSONValue] = [:], status: Int = 200) -> SimReply {
        var body = members
        body["Success"] = true
        body["is_ok"] = true
        return SimReply(status: status, body: .object(body))
    }
}

extension SimRequest {
    /// Refuses IDs sent as JSON strings anywhere in the body (400 `invalid_format`): the API's IDs are
    /// int64 numbers in requests (iaas-api-go `types/id.go`: `type ID int64`, no custom encoder). Checks every
    /// `ID` member and the ID lists `WithDisk` and `DistantFrom`.
    func requireNumericIDs() throws(SimAPIError) {
        guard let body else { return }
        try Self.checkIDs(body, path: "")
    }

    private static func checkIDs(_ value: JSONValue, path: String) throws(SimAPIError) {
        switch value {
        case .object(let members):
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let here = path.isEmpty ? key : "\(path).\(key)"
                if key == "ID", case .string(let text) = member {
                    throw .badRequest("invalid_format", "\(here) must be a JSON number, got the string \"\(text)\"")
                }
                if key == "WithDisk" || key == "DistantFrom", let items = member.arrayValue {
                    for (index, item) in items.enumerated() {
                        if case .string(let text) = item {
                            throw .badRequest("invalid_format", "\(here)[\(index)] must be a JSON number, got the string \"\(text)\"")
                        }
                    }
                }
                try checkIDs(member, path: here)
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                try checkIDs(item, path: "\(path)[\(index)]")
            }
        default:
            return
        }
    }
}

extension JSONValue {
    /// The `Tags` array of a request envelope, checked against the API's limits: at most 10 tags of at most
    /// 32 characters each (usacloud `pkg/vdef/validators.go` `"tags": "unique,max=10,dive,max=32"`;
    /// iaas-api-go `helper/plans/change_plan.go` `maxTags = 10`). 400 `invalid_format` otherwise.
    func tagList() throws(SimAPIError) -> [String] {
        let tags = self["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if tags.count > 10 {
            throw .badRequest("invalid_format", "Tags: a resource takes at most 10 tags, got \(tags.count)")
        }
        if let long = tags.first(where: { $0.count > 32 }) {
            throw .badRequest("invalid_format", "Tags: a tag has at most 32 characters, `\(long)` has \(long.count)")
        }
        return tags
    }
}
