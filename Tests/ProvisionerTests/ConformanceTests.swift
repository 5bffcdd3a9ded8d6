import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore
import NIOHTTP1
import Provisioner
import SakuraSimulator
import Testing

/// The rules of the real SAKURA Cloud API (as its official Go SDK and CLI apply them) that the client
/// follows and the simulator enforces. Each test names the SDK file its rule comes from.
@Suite("SAKURA Cloud conformance: what the real API accepts", .timeLimit(.minutes(1)))
struct ConformanceTests {
    /// A raw call to the simulator, to send what the client never sends.
    func raw(_ simulator: SakuraSimulator, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> (status: Int, body: JSONValue) {
        var request = HTTPClientRequest(url: simulator.baseURL + "/cloud/zone/is1a/api/cloud/1.1" + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Basic " + Data("kaji-sim-token:kaji-sim-secret".utf8).base64EncodedString())
        request.headers.add(name: "X-Sakura-Bigint-As-Int", value: "1")
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), try JSONValue.parse(Data(bytes.readableBytesView)))
    }

    func expectRefused(_ reply: (status: Int, body: JSONValue), mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == 400, "\(reply.body)", sourceLocation: sourceLocation)
        #expect(reply.body["error_code"]?.stringValue == "invalid_format", sourceLocation: sourceLocation)
        #expect(reply.body["is_fatal"] == .bool(true) && reply.body["serial"]?.stringValue != nil, sourceLocation: sourceLocation)
        #expect(reply.body["status"]?.stringValue == "400 Bad Request", sourceLocation: sourceLocation)
        #expect(reply.body["error_msg"]?.stringValue?.contains(text) == true, "\(reply.body)", sourceLocation: sourceLocation)
    }

    // MARK: tags (usacloud pkg/vdef/validators.go; iaas-api-go helper/plans/change_plan.go)

    @Test("more than 10 tags, or a tag over 32 characters, is refused with 400; 10 tags of 32 are taken")
    func tagLimitsAreEnforced() async throws {
        try await withSimulator { simulator, client in
            let eleven = (1...11).map { "\"t\($0)\"" }.joined(separator: ",")
            expectRefused(try await raw(simulator, .POST, "/switch", body: #"{"Switch":{"Name":"a","Tags":[\#(eleven)]}}"#), mentioning: "at most 10 tags")
            let long = String(repeating: "x", count: 33)
            expectRefused(try await raw(simulator, .POST, "/server", body: #"{"Server":{"Name":"a","Tags":["\#(long)"],"ServerPlan":{"CPU":1,"MemoryMB":1024}}}"#), mentioning: "at most 32 characters")
            let archive = try await client.findUbuntuArchive()
            expectRefused(try await raw(simulator, .POST, "/disk", body: #"{"Disk":{"Name":"d","Tags":["\#(long)"],"SourceArchive":{"ID":\#(archive.id)}}}"#), mentioning: "at most 32 characters")
            let full = (0..<10).map { String(format: "tag-%02d-", $0) + String(repeating: "y", count: 25) }
            #expect(full.allSatisfy { $0.count == 32 })
            let created = try await client.createSwitch(SwitchSpec(name: "full", tags: full))
            #expect(created.tags == full)
            // The client refuses to send what the API would refuse, naming the limit.
            let tooLong = await expectCloudError {
                _ = try await client.findOrCreateSwitch(SwitchSpec(name: "x", tags: [String(repeating: "z", count: 40)]), operation: OperationTag(run: "r", step: "s"))
            }
            #expect(tooLong?.description.contains("at most 32 allowed") == true)
        }
    }

    @Test("operation, run, cluster and node tags fit 32 characters whatever the names; distinct names keep distinct tags")
    func tagsFitTheLimits() {
        let op = OperationTag(run: UUID().uuidString.lowercased(), step: "g12/create-server:" + String(repeating: "n", count: 40) + "-worker-100")
        #expect(op.tag.count == 32 && op.tag.hasPrefix("kaji-op="))
        #expect(op.tag != OperationTag(run: op.run, step: op.step + "x").tag)
        #expect(op.describing("Kaji cluster x").hasSuffix("kaji-op \(op.run)/\(op.step)"))
        let forty = String(repeating: "a", count: 39) + "b"
        let other = String(repeating: "a", count: 39) + "c"
        #expect(SakuraTags.fitting("kaji-cluster=", forty).count == 32)
        #expect(SakuraTags.fitting("kaji-cluster=", forty) != SakuraTags.fitting("kaji-cluster=", other))
        #expect(SakuraTags.fitting("kaji-cluster=", forty) == SakuraTags.fitting("kaji-cluster=", forty), "deterministic")
        #expect(SakuraTags.fitting("kaji-cluster=", "prod-a") == "kaji-cluster=prod-a", "short names are kept whole")
        #expect(SakuraTags.fitting("kaji-node=", forty + "-worker-100").count == 32)
        #expect(op.adding(to: (1...12).map { "t\($0)" }).count == 10)
        #expect(op.adding(to: (1...12).map { "t\($0)" }).last == op.tag)
    }

    // MARK: IDs as numbers (iaas-api-go types/id.go)

    @Test("string IDs in a request body are refused with 400; the client sends numbers")
    func stringIDsAreRefused() async throws {
        try await withSimulator { simulator, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            expectRefused(try await raw(simulator, .POST, "/server", body: #"{"Server":{"Name":"a","ServerPlan":{"CPU":1,"MemoryMB":1024},"ConnectedSwitches":[{"ID":"\#(sw.id)"}]}}"#),
                          mentioning: "ConnectedSwitches[0].ID must be a JSON number")
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024, connectedSwitches: [.switch(sw.id)]))
            expectRefused(try await raw(simulator, .POST, "/interface", body: #"{"Interface":{"Server":{"ID":"\#(server.id)"}}}"#), mentioning: "Interface.Server.ID")
            let archive = try await client.findUbuntuArchive()
            expectRefused(try await raw(simulator, .POST, "/disk", body: #"{"Disk":{"Name":"d","SourceArchive":{"ID":"\#(archive.id)"}}}"#), mentioning: "Disk.SourceArchive.ID")
            let disk = try await client.createDisk(DiskSpec(name: "d", serverID: server.id))
            expectRefused(try await raw(simulator, .DELETE, "/server/\(server.id)", body: #"{"WithDisk":["\#(disk.id)"]}"#), mentioning: "WithDisk[0]")
            // The client's bodies pass: numbers everywhere.
            let body = String(decoding: try JSONEncoder().encode(ServerSpec(name: "n", cpu: 1, memoryMB: 1024, connectedSwitches: [.switch(sw.id), .shared])), as: UTF8.self)
            #expect(body.contains(#"{"ID":\#(sw.id)}"#))
            let nic = try await client.createInterface(serverID: server.id)
            #expect(try await client.getServer(server.id).interfaces.contains { $0.id == nic.id })
            #expect(try await client.deleteServer(server.id, withDisks: [disk.id]))
            #expect(count(try await fetchState(simulator), "Disks") == 0)
            #expect(throws: EncodingError.self) { try JSONEncoder().encode(SakuraRef(id: "not-a-number")) }
        }
    }

    // MARK: the disk edit configures NIC 0 (iaas-api-go fake/ops_disk.go)

    @Test("a disk edit's UserIPAddress is refused when NIC 0 is on the shared segment, and lands on NIC 0 when it is the private switch")
    func userIPAddressNeedsAPrivateNIC0() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(clock: .manual)) { simulator, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            let archive = try await client.findUbuntuArchive()
            let edit = DiskEdit(hostName: "n1", userIPAddress: "192.168.100.11", networkMaskLength: 24)
            let sharedFirst = try await client.createServer(ServerSpec(name: "a", cpu: 1, memoryMB: 1024, connectedSwitches: [.shared, .switch(sw.id)]))
            let refused = await expectCloudError {
                _ = try await client.createDisk(DiskSpec(name: "a", sourceArchiveID: archive.id, serverID: sharedFirst.id, edit: edit))
            }
            #expect(refused?.status == 400 && refused?.code == "invalid_format")
            #expect(refused?.description.contains("NIC 0") == true)
            let plain = try await client.createDisk(DiskSpec(name: "a", sourceArchiveID: archive.id, serverID: sharedFirst.id, edit: DiskEdit(hostName: "a")))
            simulator.advance(seconds: 1)
            try await eventually("disk available", timeout: .seconds(5)) { try await client.checkDiskAvailable(plain.id).ready }
            let edited = await expectCloudError { try await client.configureDisk(plain.id, edit) }
            #expect(edited?.status == 400 && edited?.code == "invalid_format")

            let privateFirst = try await client.createServer(ServerSpec(name: "b", cpu: 1, memoryMB: 1024, connectedSwitches: [.switch(sw.id), .shared]))
            _ = try await client.createDisk(DiskSpec(name: "b", sourceArchiveID: archive.id, serverID: privateFirst.id, edit: edit))
            let server = try await client.getServer(privateFirst.id)
            #expect(server.interfaces[0].switchID == sw.id && server.interfaces[0].userIPAddress == "192.168.100.11")
            #expect(server.interfaces[1].isShared && server.interfaces[1].ipAddress != nil)
        }
    }

    // MARK: finds (iaas-api-go client.go newRequest, zz_envelopes.go, search/filter.go, search/equal_expression.go)

    @Test("a find's document is the SDK's: Count and From always, only string filter values path-escaped")
    func findDocumentIsTheSDKs() {
        #expect(FindQuery().sdkDocument == #"{"Count":0,"From":0}"#)
        let query = FindQuery(filter: ["Tags.Name": .allTags(["kaji-op=ab", "x y"]), "Name": .exact(["a b/c", "日本"]), "Scope": .partial("shared  user")], count: 5, from: 10)
        #expect(query.sdkDocument == #"{"Count":5,"From":10,"Filter":{"Name":["a%20b%2Fc","%E6%97%A5%E6%9C%AC"],"Scope":"shared%20user","Tags.Name":[["kaji-op=ab","x y"]]}}"#)
        #expect(FindQuery(filter: ["Name": .exact(["a&b<c"])]).sdkDocument == #"{"Count":0,"From":0,"Filter":{"Name":["a\u0026b%3Cc"]}}"#)
    }

    @Test("finds reach the API as the SDK's document after one percent-decoding; names with spaces and Japanese are found")
    func findsOnTheWire() async throws {
        try await withSimulator { simulator, client in
            _ = try await client.createServer(ServerSpec(name: "日本 node", tags: ["k8s=a"], cpu: 1, memoryMB: 1024))
            _ = try await client.createServer(ServerSpec(name: "other", cpu: 1, memoryMB: 1024))
            let query = FindQuery(filter: ["Name": .exact(["日本 node"])])
            #expect(try await client.findServers(query).map(\.name) == ["日本 node"])
            #expect(try await client.findServers(FindQuery(filter: ["Name": .partial("日本 node")])).count == 1)
            #expect(try await client.findServers(.tagged("k8s=a")).count == 1)
            let sent = try #require(simulator.recentQueries().first { $0.hasPrefix("GET /server?") })
            let wire = String(sent.dropFirst("GET /server?".count))
            // Only characters a URL cannot carry are escaped on the wire; one decoding gives what the API reads.
            #expect(!wire.contains("{") && !wire.contains("\"") && !wire.contains(" "))
            #expect(wire.removingPercentEncoding == #"{"Count":0,"From":0,"Filter":{"Name":["日本 node"]}}"#)
        }
    }

    // MARK: retries (iaas-api-go client.go defaultCheckRetryStatusCodes; api-client-go factory.go checkRetryFn)

    @Test("429, 500 and 504 are not retried; 503 and 423 are", arguments: ["429", "500", "timeout"])
    func onlyBusyAndLockedAreRetried(kind: String) async throws {
        try await withSimulator(SakuraSimulatorConfiguration(faults: try FaultRule.parseList("GET /auth-status=\(kind),times=3;PUT /disk/*/config=\(kind)"))) { simulator, client in
            let error = await expectCloudError { _ = try await client.authStatus() }
            #expect(error?.attempts == 1 && error?.isRetryable == false)
            let disk = try await client.createDisk(DiskSpec(name: "d"))
            let edit = await expectCloudError { try await client.configureDisk(disk.id, DiskEdit(hostName: "h")) }
            #expect(edit?.attempts == 1)
            #expect(try await fetchState(simulator)["FaultsFired"]?.arrayValue?.count == 2)
        }
    }

    @Test("a call that is not idempotent is re-sent on 503 before it ran, never after a transport error once sent")
    func nonIdempotentCallsAreResentOnlyWhenUndelivered() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(faults: try FaultRule.parseList("PUT /disk/*/config=busy,times=2"))) { simulator, client in
            let disk = try await client.createDisk(DiskSpec(name: "d"))
            try await client.configureDisk(disk.id, DiskEdit(hostName: "h1"))
            simulator.addFaults([FaultRule(method: "PUT", pathPattern: "/disk/*/config", kind: .reset, phase: .after)])
            let lost = await expectCloudError { try await client.configureDisk(disk.id, DiskEdit(hostName: "h2")) }
            #expect(lost?.attempts == 1 && lost?.notDelivered == false)
            #expect(try await fetchState(simulator)["FaultsFired"]?.arrayValue?.count == 3)
        }
        // No connection at all: the request provably never left, so it is re-sent (and fails the same way).
        let nobody = SakuraCloudClient(configuration: SakuraCloudConfiguration(
            baseURL: "http://127.0.0.1:9", credentials: SakuraCloudCredentials(accessToken: "t", accessTokenSecret: "s"),
            requestTimeout: .seconds(2), retry: SakuraRetryPolicy(maxRetries: 2, minWait: .milliseconds(1), maxWait: .milliseconds(5)),
            rateLimiter: SakuraRateLimiter(requestsPerSecond: 0), powerGate: InProcessPowerGate()))
        let refused = await expectCloudError { try await nobody.configureDisk("113000000200", DiskEdit(hostName: "h")) }
        #expect(refused?.notDelivered == true && refused?.attempts == 3, "\(String(describing: refused))")
    }

    // MARK: power (iaas-api-go helper/power/power.go, defaults/defaults.go)

    @Test("the first boot is retried while the API answers 409 still_creating")
    func firstBootRetriesStillCreating() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(faults: try FaultRule.parseList("PUT /server/*/power=still_creating,times=3"))) { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "x", cpu: 1, memoryMB: 1024))
            try await client.powerOn(server.id)
            try await eventually("server up", timeout: .seconds(5)) { try await client.checkServerStatus(server.id, is: .up).ready }
            let fired = (try await fetchState(simulator)["FaultsFired"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(fired.count == 3 && fired.allSatisfy { $0.contains("still_creating") })
        }
    }

    @Test("a boot accepted but not carried out is sent again while the server reads down; a 409 to a re-send counts as accepted")
    func bootAcceptedButNotCarriedOutIsResent() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(faults: try FaultRule.parseList("PUT /server/*/power=dropped"))) { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "x", cpu: 1, memoryMB: 1024))
            try await client.powerOn(server.id)
            var resent = 0
            try await eventually("server up after a re-sent boot", timeout: .seconds(5)) {
                let check = try await client.checkServerStatus(server.id, is: .up)
                if check.ready { return true }
                if try await client.bootFollowUp(check.server) { resent += 1 }
                return false
            }
            #expect(resent >= 1)
            let fired = (try await fetchState(simulator)["FaultsFired"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(fired == ["PUT /server/\(server.id)/power dropped before"])
        }
        try await withSimulator(SakuraSimulatorConfiguration(clock: .manual)) { simulator, client in
            let server = try await client.createServer(ServerSpec(name: "y", cpu: 1, memoryMB: 1024))
            try await client.powerOn(server.id)
            // Booting reads `down`; the re-send is answered 409 (accepted): nothing more is sent after it.
            var answered409 = false
            try await eventually("a re-sent boot", timeout: .seconds(5)) {
                let server = try await client.getServer(server.id)
                answered409 = try await client.bootFollowUp(server)
                return answered409
            }
            try await Task.sleep(for: .milliseconds(120))
            #expect(try await client.bootFollowUp(try await client.getServer(server.id)) == false)
            simulator.advance(seconds: 1)
            #expect(try await client.checkServerStatus(server.id, is: .up).ready)
        }
    }

    // MARK: creates keep one resource (issue 9, cloud side)

    @Test("a zombie attempt that created the same operation's resource too: the oldest is kept, the newer deleted", arguments: [true, false])
    func zombieRaceKeepsTheOldest(zombieFirst: Bool) async throws {
        try await withSimulator { simulator, client in
            let op = OperationTag(run: "run-z", step: "create-server:m1")
            let spec = ServerSpec(name: "m1", tags: [op.tag], cpu: 1, memoryMB: 1024)
            let result = try await client.findOrCreate(
                operation: op,
                find: { try await client.findServers(.tagged(op.tag)) },
                create: {
                    // The zombie's create lands right before or right after this attempt's own.
                    if zombieFirst { _ = try await client.createServer(spec) }
                    let mine = try await client.createServer(spec)
                    if !zombieFirst { _ = try await client.createServer(spec) }
                    return mine
                },
                remove: { _ = try await client.deleteServer($0.id) })
            let left = try await client.findServers(.tagged(op.tag))
            #expect(left.count == 1)
            #expect(left.first?.id == result.resource.id)
            #expect(result.removedDuplicates == 1)
            #expect(result.adopted == zombieFirst, "the zombie's server is kept when it is the older")
            #expect(count(try await fetchState(simulator), "Servers") == 1)
        }
    }

    @Test("a duplicate disk still copying is deleted by a later attempt once the copy ends")
    func duplicateDiskIsRemovedAfterItsCopy() async throws {
        try await withSimulator(SakuraSimulatorConfiguration(clock: .manual)) { simulator, client in
            let archive = try await client.findUbuntuArchive()
            let op = OperationTag(run: "run-z", step: "create-disk:m1")
            let spec = DiskSpec(name: "d", tags: [op.tag], sourceArchiveID: archive.id)
            _ = try await client.createDisk(spec)
            _ = try await client.createDisk(spec)
            let busy = await expectCloudError { _ = try await client.findOrCreateDisk(DiskSpec(name: "d", sourceArchiveID: archive.id), operation: op) }
            #expect(busy?.code == "disk_is_copying")
            simulator.advance(seconds: 1)
            let kept = try await client.findOrCreateDisk(DiskSpec(name: "d", sourceArchiveID: archive.id), operation: op)
            #expect(kept.adopted && kept.removedDuplicates == 1)
            #expect(try await client.findDisks(.tagged(op.tag)).map(\.id) == [kept.resource.id])
        }
    }

    // MARK: switch delete, auth-status, readiness, null entries

    @Test("a switch counts the servers that still use it (helper/cleanup/switch.go waits for none)")
    func switchReferences() async throws {
        try await withSimulator { _, client in
            let sw = try await client.createSwitch(SwitchSpec(name: "sw"))
            let server = try await client.createServer(ServerSpec(name: "m", cpu: 1, memoryMB: 1024, connectedSwitches: [.switch(sw.id), .shared]))
            #expect(try await client.serversOnSwitch(sw.id) == 1)
            #expect(try await client.getSwitch(sw.id).serverCount == 1)
            #expect(try await client.deleteServer(server.id))
            #expect(try await client.serversOnSwitch(sw.id) == 0)
            #expect(try await client.deleteSwitch(sw.id))
            #expect(try await client.serversOnSwitch(sw.id) == 0, "a deleted switch is used by nobody")
        }
    }

    @Test("server answers: status compared case-insensitively, up needs Availability available, null interfaces skipped")
    func serverDecoding() throws {
        let json = #"{"ID":113000000300,"Name":"m","Availability":"migrating","Instance":{"Status":"UP"},"Interfaces":[null,{"ID":"113000000301","Switch":{"Scope":"shared"},"IPAddress":"203.0.113.5"}],"CreatedAt":"2026-01-01T09:00:00+09:00"}"#
        var server = try JSONDecoder().decode(SakuraServer.self, from: Data(json.utf8))
        #expect(server.status == .up)
        #expect(!server.isUp, "not available yet")
        #expect(server.interfaces.count == 1 && server.interfaces[0].isShared)
        #expect(server.id == "113000000300" && server.createdAt == "2026-01-01T09:00:00+09:00")
        server.availability = .available
        #expect(server.isUp)
    }
}
