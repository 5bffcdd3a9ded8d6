/// `Availability` of a disk or archive.
public enum DiskAvailability: Sendable, Equatable, Decodable, CustomStringConvertible {
    case available, migrating, failed, uploading, transfering, discontinued
    /// Any other value, kept verbatim.
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "available": self = .available
        case "migrating": self = .migrating
        case "failed": self = .failed
        case "uploading": self = .uploading
        case "transfering": self = .transfering
        case "discontinued": self = .discontinued
        default: self = .other(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public var description: String {
        switch self {
        case .available: return "available"
        case .migrating: return "migrating"
        case .failed: return "failed"
        case .uploading: return "uploading"
        case .transfering: return "transfering"
        case .discontinued: return "discontinued"
        case .other(let value): return value
        }
    }
}

/// `Instance.Status` of a server.
public enum ServerStatus: Sendable, Equatable, Decodable, CustomStringConvertible {
    case up, down, cleaning
    case other(String)

    /// Case-insensitive, as the SDK's `IsUp`/`IsDown` (iaas-api-go `types/instance_status.go`).
    public init(rawValue: String) {
        switch rawValue.lowercased() {
        case "up": self = .up
        case "down": self = .down
        case "cleaning": self = .cleaning
        default: self = .other(rawValue)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public var description: String {
        switch self {
        case .up: return "up"
        case .down: return "down"
        case .cleaning: return "cleaning"
        case .other(let value): return value
        }
    }
}
