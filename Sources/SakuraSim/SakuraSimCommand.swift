import ArgumentParser
import Foundation
import SakuraSimulator

/// `sakura-sim`: runs the local SAKURA Cloud API until killed.
@main
struct SakuraSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sakura-sim",
        abstract: "A local SAKURA Cloud API (the subset Kaji uses) for tests and demos.",
        discussion: """
            Serves /cloud/zone/{zone}/api/cloud/1.1/… on loopback. Point a client at the printed URL instead of \
            https://secure.sakura.ad.jp. Admin: GET /_fake/state, POST /_fake/reset, POST /_fake/advance?seconds=N, \
            POST /_fake/faults (body: fault rules), /_fake/apiservers (kube-apiserver stand-ins, see --node-state).
            Fault rules: METHOD PATH=KIND[,before|after][,times=N][,p=X][,retry-after=S][,zone=Z], separated by ';'. \
            KIND: busy, too_many_request, 429, locked, 500, timeout, reset, hang, copyfail, still_creating, dropped.
            Example: --faults 'POST /server=timeout,after;GET *=busy,p=0.1'
            """)

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Loopback address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Access token expected as the Basic auth user.")
    var token: String = "kaji-sim-token"

    @Option(help: "Secret expected as the Basic auth password.")
    var secret: String = "kaji-sim-secret"

    @Option(help: "Timings: unit (fast) or realistic (minutes).")
    var profile: String = "unit"

    @Option(help: "Fault rules, ';'-separated (see above).")
    var faults: String = ""

    @Option(help: "Seed for fault rolls, durations and serials.")
    var seed: UInt64 = 1

    @Flag(help: "Move the virtual clock only through POST /_fake/advance.")
    var manualClock = false

    @Option(help: "Port of the sshd serving simulated nodes; servers then report it.")
    var sshPort: Int?

    @Option(help: "Address of the sshd serving simulated nodes.")
    var sshHost: String = "127.0.0.1"

    @Option(help: "Name keeping this simulator's node state apart on a shared sshd.")
    var world: String = "sim"

    @Option(help: "The sshd's authorized_keys file: disk edits' SSH keys are added to it.")
    var authorizedKeys: String?

    @Option(help: ArgumentHelp(
        "The simulated nodes' state directory (default: $KAJI_SIM_STATE, set by scripts/start-sshd.sh).",
        discussion: "With it, each simulated cluster's `kubeadm init` gets a kube-apiserver stand-in (TLS on 127.0.0.1, /readyz and /livez); DIR/WORLD/apiservers.json maps each VIP:6443 to its loopback address (a worker's KAJI_API_ENDPOINT_OVERRIDES). Switches: POST /_fake/apiservers/fail?check=etcd, /heal, /down, /up, /hang."))
    var nodeState: String?

    func validate() throws {
        guard SimulatorProfile.named(profile) != nil else {
            throw ValidationError("--profile must be unit or realistic, got `\(profile)`")
        }
        guard host.hasPrefix("127.") || host == "::1" || host == "localhost" else {
            throw ValidationError("--host must be a loopback address, got `\(host)`")
        }
    }

    func run() async throws {
        let rules: [FaultRule]
        do {
            rules = try FaultRule.parseList(faults)
        } catch {
            throw ValidationError(error.description)
        }
        let configuration = SakuraSimulatorConfiguration(
            host: host, port: port, accessToken: token, accessTokenSecret: secret,
            profile: SimulatorProfile.named(profile) ?? .unit, faults: rules, seed: seed,
            clock: manualClock ? .manual : .wallClock,
            nodes: sshPort.map {
                SimulatedNodes(host: sshHost, port: $0, world: world, authorizedKeysFile: authorizedKeys,
                               stateDirectory: nodeState ?? ProcessInfo.processInfo.environment["KAJI_SIM_STATE"].flatMap { $0.isEmpty ? nil : $0 })
            })
        let simulator = try await SakuraSimulator.start(configuration)
        let line = "sakura-sim listening on \(simulator.baseURL) (profile \(profile), zones is1a is1b is1c tk1a tk1b tk1v)\n"
        FileHandle.standardOutput.write(Data(line.utf8))
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(3600))
        }
        await simulator.stop()
    }
}
