import Foundation

/// Every resource of the simulated account, across zones, and the virtual clock's view of it.
///
/// All methods run under the store's lock; `now` is virtual seconds since the simulator started.
struct SimState: Sendable {
    static let zones: Set<String> = ["is1a", "is1b", "is1c", "tk1a", "tk1b", "tk1v"]

    var profile: SimulatorProfile
    var quotas: SimulatorQuotas
    var nodes: SimulatedNodes?
    var random: SeededRandom
    var nextID: Int64 = 113_000_000_100
    var nextAddress = 10
    var switches: [String: SimSwitch] = [:]
    var servers: [String: SimServer] = [:]
    var disks: [String: SimDisk] = [:]
    var interfaces: [String: SimInterface] = [:]
    var archives: [String: SimArchive] = [:]
    /// Virtual times of recent power calls, for the profile's power-call limit.
    var recentPowerCalls: [Double] = []
    /// Set by a `copyfail` fault: the next disk copy ends `failed`.
    var failNextCopy = false
    /// Active fault rules, consumed as they fire.
    var faults: [FaultRule] = []
    /// Every fault that fired, in order, as `METHOD /path kind phase`.
    var firedFaults: [String] = []
    /// SSH public keys of disk edits not yet written to the sshd's authorized_keys.
    var newSSHKeys: [String] = []

    init(profile: SimulatorProfile, quotas: SimulatorQuotas, nodes: SimulatedNodes?, seed: UInt64) {
        self.profile = profile
        self.quotas = quotas
        self.nodes = nodes
        self.random = SeededRandom(seed: seed)
        seedArchives()
    }

    /// Forgets every resource except the public archives; IDs go on counting up.
    mutating func reset() {
        switches = [:]
        servers = [:]
        disks = [:]
        interfaces = [:]
        recentPowerCalls = []
        failNextCopy = false
        firedFaults = []
    }

    private mutating func seedArchives() {
        var archiveID: Int64 = 113_000_000_001
        for zone in Self.zones.sorted() {
            let ubuntu24 = SimArchive(
                id: String(archiveID), zone: zone, name: "Ubuntu Server 24.04.2 LTS 64bit",
                tags: ["@size-extendable", "arch-64bit", "current-stable", "distro-ubuntu", "distro-ver-24.04.2",
                       "os-linux", "ubuntu-24.04-latest"],
                sizeMB: 20480)
            let ubuntu22 = SimArchive(
                id: String(archiveID + 1), zone: zone, name: "Ubuntu Server 22.04.5 LTS 64bit",
                tags: ["@size-extendable", "arch-64bit", "distro-ubuntu", "distro-ver-22.04.5", "os-linux",
                       "ubuntu-22.04-latest"],
                sizeMB: 20480)
            archives[ubuntu24.id] = ubuntu24
            archives[ubuntu22.id] = ubuntu22
            archiveID += 10
        }
    }

    mutating func newID() -> String {
        nextID += 1
        return String(nextID)
    }

    mutating func newSerial() -> String {
        String(random.next() & 0xFFFF_FFFF, radix: 16)
    }

    mutating func newMAC() -> String {
        let value = random.next()
        let bytes = (0..<3).map { String(format: "%02x", Int((value >> (8 * UInt64($0))) & 0xff)) }
        return "9c:a3:ba:" + bytes.joined(separator: ":")
    }

    mutating func newSharedAddress() -> String {
        if let nodes { return nodes.host }
        nextAddress += 1
        return "203.0.113.\(nextAddress % 250 + 2)"
    }

    mutating func duration(_ range: ClosedRange<Double>) -> Double {
        random.uniform(range)
    }

    /// Moves every transition that has ended by `now` to its end state.
    mutating func settle(now: Double) {
        for id in disks.keys.sorted() {
            guard var disk = disks[id], disk.availability == .migrating, disk.readyAt <= now else { continue }
            disk.availability = disk.willFail ? .failed : .available
            disks[id] = disk
            if disk.availability == .available, disk.bootAtAvailable, let serverID = disk.serverID,
                var server = servers[serverID], server.power == .down,
                attachedDisks(of: serverID).allSatisfy({ $0.availability == .available || $0.id == id })
            {
                server.power = .booting(until: disk.readyAt + duration(profile.bootSeconds))
                servers[serverID] = server
            }
        }
        for id in servers.keys.sorted() {
            guard var server = servers[id] else { continue }
            switch server.power {
            case .booting(let until) where until <= now:
                server.power = .up
                server.statusChangedAt = until
            case .cleaning(let until) where until <= now:
                server.power = .down
                server.statusChangedAt = until
            default:
                continue
            }
            servers[id] = server
        }
    }

    func attachedDisks(of serverID: String) -> [SimDisk] {
        disks.values.filter { $0.serverID == serverID }.sorted { $0.id < $1.id }
    }

    func interfaces(of serverID: String) -> [SimInterface] {
        interfaces.values.filter { $0.serverID == serverID }.sorted { $0.id < $1.id }
    }
}
