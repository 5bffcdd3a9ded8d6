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

extension JSONValue {
    /// The `Tags` array of a request envelope, checked against the API's limit of 10.
    func tagList() throws(SimAPIError) -> [String] {
        let tags = self["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if tags.count > 10 {
            throw .badRequest("invalid_range", "a resource takes at most 10 tags, got \(tags.count)")
        }
        return tags
    }
}
