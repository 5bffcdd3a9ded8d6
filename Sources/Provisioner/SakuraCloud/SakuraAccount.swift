/// What `GET /auth-status` says about the API key.
public struct SakuraAuthStatus: Sendable, Decodable, Equatable {
    public var accountID: SakuraID?
    public var accountName: String?
    /// e.g. `create`, `arrange`, `view`.
    public var permission: String?
    public var isAPIKey: Bool?

    enum CodingKeys: String, CodingKey {
        case accountID = "AccountID", accountName = "AccountName", permission = "Permission", isAPIKey = "IsAPIKey"
    }
}

/// A server plan of `GET /product/server`.
public struct SakuraServerPlan: Sendable, Decodable, Equatable {
    public var id: SakuraID
    public var name: String
    public var cpu: Int
    public var memoryMB: Int
    public var generation: Int?
    public var commitment: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", cpu = "CPU", memoryMB = "MemoryMB", generation = "Generation"
        case commitment = "Commitment"
    }
}
