import NIOHTTP1

/// `{"<Key>": value}`, the API's request envelope.
struct Envelope<Value: Encodable & Sendable>: Encodable, Sendable {
    var key: String
    var value: Value

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ListEnvelope<IgnoredBody>.AnyKey.self)
        try container.encode(value, forKey: .init(stringValue: key))
    }
}

/// Reads and deletes of switches, servers, disks, archives; auth status and plans.
extension SakuraCloudClient {
    /// `GET /auth-status`: checks the credentials and returns what the key may do.
    public func authStatus() async throws -> SakuraAuthStatus {
        try await send(.GET, "/auth-status", as: SakuraAuthStatus.self)
    }

    /// `GET /product/server`.
    public func serverPlans() async throws -> [SakuraServerPlan] {
        try await send(.GET, "/product/server", as: ListEnvelope<SakuraServerPlan>.self).items
    }

    /// The newest public Ubuntu archive: tag `ubuntu-<version>-latest` when `version` is given (e.g.
    /// `24.04`), else tags `current-stable` + `distro-ubuntu`; scope `shared`.
    public func findUbuntuArchive(version: String? = nil) async throws -> SakuraArchive {
        let tags = version.map { ["ubuntu-\($0)-latest"] } ?? ["current-stable", "distro-ubuntu"]
        let query = FindQuery(filter: ["Tags.Name": .allTags(tags), "Scope": .exact(["shared"])])
        let archives = try await send(.GET, "/archive", query: query, as: ListEnvelope<SakuraArchive>.self).items
        guard let archive = archives.first else {
            throw SakuraCloudError(
                kind: .api(status: 404, code: "not_found", serial: nil,
                           message: "no shared archive tagged \(tags.joined(separator: ", "))"),
                method: "GET", path: "/archive", zone: zone)
        }
        return archive
    }

    // MARK: switches

    public func findSwitches(_ query: FindQuery) async throws -> [SakuraSwitch] {
        try await send(.GET, "/switch", query: query, as: ListEnvelope<SakuraSwitch>.self).items
    }

    public func getSwitch(_ id: SakuraID) async throws -> SakuraSwitch {
        try await send(.GET, "/switch/\(id)", as: ItemEnvelope<SakuraSwitch>.self).item
    }

    /// `POST /switch`, sent once (no retry); prefer ``findOrCreateSwitch(_:operation:)``.
    public func createSwitch(_ spec: SwitchSpec) async throws -> SakuraSwitch {
        try await send(.POST, "/switch", body: Envelope(key: "Switch", value: spec), resend: .never,
                       as: ItemEnvelope<SakuraSwitch>.self).item
    }

    /// Deletes a switch. Returns false when it was already gone. 409 `res_used_in_zone` while NICs use it.
    @discardableResult
    public func deleteSwitch(_ id: SakuraID) async throws -> Bool {
        try await deleting("/switch/\(id)")
    }

    // MARK: servers

    public func findServers(_ query: FindQuery) async throws -> [SakuraServer] {
        try await send(.GET, "/server", query: query, as: ListEnvelope<SakuraServer>.self).items
    }

    public func getServer(_ id: SakuraID) async throws -> SakuraServer {
        try await send(.GET, "/server/\(id)", as: ItemEnvelope<SakuraServer>.self).item
    }

    /// `POST /server`, sent once (no retry); prefer ``findOrCreateServer(_:operation:)``.
    public func createServer(_ spec: ServerSpec) async throws -> SakuraServer {
        try await send(.POST, "/server", body: Envelope(key: "Server", value: spec), resend: .never,
                       as: ItemEnvelope<SakuraServer>.self).item
    }

    /// Deletes a down server, and the listed disks with it. Returns false when it was already gone.
    /// 409 `server_power_must_be_down` when it is not down.
    @discardableResult
    public func deleteServer(_ id: SakuraID, withDisks disks: [SakuraID] = []) async throws -> Bool {
        struct Body: Encodable, Sendable {
            var withDisk: [SakuraID]
            enum CodingKeys: String, CodingKey { case withDisk = "WithDisk" }
        }
        return try await deleting("/server/\(id)", body: disks.isEmpty ? nil : Body(withDisk: disks))
    }

    // MARK: disks

    public func findDisks(_ query: FindQuery) async throws -> [SakuraDisk] {
        try await send(.GET, "/disk", query: query, as: ListEnvelope<SakuraDisk>.self).items
    }

    public func getDisk(_ id: SakuraID) async throws -> SakuraDisk {
        try await send(.GET, "/disk/\(id)", as: ItemEnvelope<SakuraDisk>.self).item
    }

    /// `POST /disk` (answers 202 with `migrating`), sent once; prefer ``findOrCreateDisk(_:operation:)``.
    public func createDisk(_ spec: DiskSpec) async throws -> SakuraDisk {
        try await send(.POST, "/disk", body: spec, resend: .never, as: ItemEnvelope<SakuraDisk>.self).item
    }

    /// `PUT /disk/{id}/config`: edits an available disk. 409 `disk_is_copying` while it copies.
    public func configureDisk(_ id: SakuraID, _ edit: DiskEdit) async throws {
        _ = try await sendRaw(.PUT, "/disk/\(id)/config", body: edit, resend: .ifNotDelivered)
    }

    /// `PUT /disk/{id}/to/server/{serverID}` (the server must be down).
    public func attachDisk(_ id: SakuraID, toServer serverID: SakuraID) async throws {
        _ = try await sendRaw(.PUT, "/disk/\(id)/to/server/\(serverID)", doneCodes: ["res_already_connected"])
    }

    /// `DELETE /disk/{id}/to/server`.
    public func detachDisk(_ id: SakuraID) async throws {
        _ = try await sendRaw(.DELETE, "/disk/\(id)/to/server", doneCodes: ["res_already_disconnected"])
    }

    /// Deletes a disk. Returns false when it was already gone.
    @discardableResult
    public func deleteDisk(_ id: SakuraID) async throws -> Bool {
        try await deleting("/disk/\(id)")
    }

    // MARK: interfaces

    /// `POST /interface`: adds a NIC to a down server. Not retried.
    public func createInterface(serverID: SakuraID) async throws -> SakuraInterface {
        let body = Envelope(key: "Interface", value: ["Server": SakuraRef(id: serverID)])
        return try await send(.POST, "/interface", body: body, resend: .never, as: ItemEnvelope<SakuraInterface>.self).item
    }

    /// `PUT /interface/{id}/to/switch/{switchID}`. 409 `res_already_connected`, `connect_to_same_switch`.
    public func connectInterface(_ id: SakuraID, toSwitch switchID: SakuraID) async throws {
        _ = try await sendRaw(.PUT, "/interface/\(id)/to/switch/\(switchID)", doneCodes: ["res_already_connected"])
    }

    /// `PUT /interface/{id}/to/switch/shared`.
    public func connectInterfaceToShared(_ id: SakuraID) async throws {
        _ = try await sendRaw(.PUT, "/interface/\(id)/to/switch/shared", doneCodes: ["res_already_connected"])
    }

    /// `DELETE /interface/{id}/to/switch`.
    public func disconnectInterface(_ id: SakuraID) async throws {
        _ = try await sendRaw(.DELETE, "/interface/\(id)/to/switch", doneCodes: ["res_already_disconnected"])
    }

    /// Deletes with retries; a 404 means the resource is gone (perhaps by an earlier attempt): false.
    func deleting(_ path: String, body: (any Encodable & Sendable)? = nil) async throws -> Bool {
        do {
            _ = try await sendRaw(.DELETE, path, body: body)
            return true
        } catch let error as SakuraCloudError where error.isNotFound {
            return false
        }
    }
}
