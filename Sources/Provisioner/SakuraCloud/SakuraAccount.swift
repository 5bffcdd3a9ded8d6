/// What `GET /auth-status` says about the API key. The account is nested, `{"Account":{"ID":…,"Name":…}}`
/// (iaas-api-go `naked/auth_status.go`, `naked/account.go`).
public struct SakuraAuthStatus: Sendable, Decodable, Equatable {
    public var accountID: SakuraID?
    public var accountName: String?
    /// e.g. `create`, `arrange`, `view`.
    public var permission: String?
    public var isAPIKey: Bool?

    enum CodingKeys: String, CodingKey {
        case account = "Account", permission = "Permission", isAPIKey = "IsAPIKey"
    }

    struct Account: Decodable {
        var id: SakuraID?
        var name: String?
        enum CodingKeys: String, CodingKey { case id = "ID", name = "Name" }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let account = try container.decodeIfPresent(Account.self, forKey: .account)
        accountID = account?.id
        accountName = account?.name
        permission = try container.decodeIfPresent(String.self, forKey: .permission)
        isAPIKey = try container.decodeIfPresent(Bool.self, forKey: .isAPIKey)
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
