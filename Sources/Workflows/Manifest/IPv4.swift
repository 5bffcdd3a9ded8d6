import Foundation

/// An IPv4 address (dotted quad, no leading zeros).
public struct IPv4: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(value: UInt32) {
        self.value = value
    }

    /// Parses `a.b.c.d`; nil for anything else (leading zeros, spaces, fewer or more parts).
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  part == "0" || !part.hasPrefix("0"), let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    /// The address `offset` further on, nil past 255.255.255.255.
    public func advanced(by offset: Int) -> IPv4? {
        let next = Int64(value) + Int64(offset)
        guard next >= 0, next <= Int64(UInt32.max) else { return nil }
        return IPv4(value: UInt32(next))
    }

    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
}

/// An IPv4 network in CIDR form, `192.168.100.0/24`.
public struct IPv4CIDR: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4
    public let prefix: Int

    /// Parses `a.b.c.d/n` whose host bits are zero; nil otherwise (see `parse` for the reason).
    public init?(_ text: String) {
        guard case .success(let network) = Self.parse(text) else { return nil }
        self = network
    }

    private init(address: IPv4, prefix: Int) {
        self.address = address
        self.prefix = prefix
    }

    /// Parses a CIDR, or says what is wrong with it.
    public static func parse(_ text: String) -> Result<IPv4CIDR, CIDRProblem> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4(String(parts[0])), parts[1].allSatisfy(\.isNumber),
              let prefix = Int(parts[1]), (0...32).contains(prefix) else { return .failure(.syntax) }
        let mask: UInt32 = prefix == 0 ? 0 : UInt32.max << (32 - prefix)
        guard address.value & ~mask == 0 else {
            return .failure(.hostBitsSet(suggestion: "\(IPv4(value: address.value & mask))/\(prefix)"))
        }
        return .success(IPv4CIDR(address: address, prefix: prefix))
    }

    public enum CIDRProblem: Error, Equatable, Sendable {
        case syntax
        case hostBitsSet(suggestion: String)
    }

    public var mask: UInt32 { prefix == 0 ? 0 : UInt32.max << (32 - prefix) }
    public var first: IPv4 { address }
    public var last: IPv4 { IPv4(value: address.value | ~mask) }
    /// The usable host addresses (all but the network and broadcast addresses; /31 and /32 have none).
    public var hosts: ClosedRange<IPv4>? {
        guard prefix <= 30 else { return nil }
        return IPv4(value: first.value + 1)...IPv4(value: last.value - 1)
    }

    public func contains(_ ip: IPv4) -> Bool { ip.value & mask == address.value }

    public func overlaps(_ other: IPv4CIDR) -> Bool { contains(other.address) || other.contains(address) }

    public var description: String { "\(address)/\(prefix)" }

    /// RFC 1918 private ranges.
    public static let privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].compactMap(IPv4CIDR.init)

    /// Whether the whole network lies inside a private range.
    public var isPrivate: Bool { Self.privateRanges.contains { $0.contains(first) && $0.contains(last) } }
}

extension ClosedRange where Bound == IPv4 {
    /// `a-b`, or just `a` for a single address.
    public var rangeDescription: String { lowerBound == upperBound ? "\(lowerBound)" : "\(lowerBound)-\(upperBound)" }
}
