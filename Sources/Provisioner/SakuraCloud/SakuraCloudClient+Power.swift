import Foundation
import NIOHTTP1
import Synchronization

/// Power calls, serialised per zone through the configuration's ``PowerCallGate``, and the boot protocol of
/// the official SDK's power helper (iaas-api-go `helper/power/power.go`, defaults in `defaults/defaults.go`):
///
/// 1. The first boot is re-sent every ``SakuraPowerPolicy/bootRetrySpan`` (20 s) while the API answers 409
///    `still_creating`, for up to ``SakuraPowerPolicy/initialRequestTimeout`` (30 min).
/// 2. While waiting for `up`, the boot is re-sent every `bootRetrySpan` as long as the server still reads
///    `down` (a boot the API accepted but did not carry out); a 409 to such a re-send means the API has
///    accepted a boot, and nothing more is sent. ``bootFollowUp(_:)`` does this from a poll.
extension SakuraCloudClient {
    /// `PUT /server/{id}/power`, the first boot: retried every `bootRetrySpan` on 409 `still_creating`
    /// until `initialRequestTimeout`. 409 `conflict` (already up or booting) counts as done when it answers
    /// a re-sent call (the first attempt's answer was lost).
    public func powerOn(_ id: SakuraID) async throws {
        let policy = configuration.power
        let deadline = ContinuousClock.now + policy.initialRequestTimeout
        while true {
            do {
                try await powerCall(.PUT, "/server/\(id)/power", body: nil)
                boots.sent(id)
                return
            } catch let error as SakuraCloudError where error.code == "still_creating" {
                guard ContinuousClock.now + policy.bootRetrySpan < deadline else { throw error }
                logger.debug("boot answered still_creating; trying again", metadata: ["server": "\(id)"])
                try await Task.sleep(for: policy.bootRetrySpan)
            }
        }
    }

    /// One step of the helper's wait for `up`, for a poll to call with the server it just read: when the
    /// server still reads `down`, no boot was accepted by a 409 yet, and the last boot of this process was
    /// sent at least `bootRetrySpan` ago, sends the boot again. Returns true when it sent one.
    @discardableResult
    public func bootFollowUp(_ server: SakuraServer) async throws -> Bool {
        guard server.status == .down, boots.due(server.id, after: configuration.power.bootRetrySpan) else { return false }
        do {
            try await powerCall(.PUT, "/server/\(server.id)/power", body: nil, doneCodes: [])
            boots.sent(server.id)
        } catch let error as SakuraCloudError where error.status == 409 {
            // The API has accepted a boot (it is booting, or up): stop re-sending, as the SDK does.
            boots.accepted(server.id)
        }
        return true
    }

    /// `DELETE /server/{id}/power`, `{"Force":true}` when `force` (default false). 409
    /// `server_power_must_be_up` when it is down (accepted when an earlier attempt was lost).
    public func powerOff(_ id: SakuraID, force: Bool = false) async throws {
        try await powerCall(.DELETE, "/server/\(id)/power", body: force ? ["Force": true] : nil)
    }

    private func powerCall(
        _ method: HTTPMethod, _ path: String, body: [String: Bool]?,
        doneCodes: Set<String> = ["conflict", "server_power_must_be_up"]
    ) async throws {
        let client = self
        try await configuration.powerGate.withGate(zone: zone) {
            // A re-sent call answered "already up/down": an earlier attempt ran but its answer was lost.
            _ = try await client.sendRaw(method, path, body: body, resend: .ifNotDelivered, doneCodes: doneCodes)
        }
    }
}

/// The power helper's timings (iaas-api-go `defaults/defaults.go`).
public struct SakuraPowerPolicy: Sendable {
    /// Wait between boots while the first answers 409 `still_creating`, and between boots re-sent while the
    /// server still reads `down`; default 20 s (`DefaultPowerHelperBootRetrySpan`,
    /// `DefaultPowerHelperInitialRequestRetrySpan`).
    public var bootRetrySpan: Duration
    /// How long the first boot is retried on `still_creating`; default 30 min
    /// (`DefaultPowerHelperInitialRequestTimeout`).
    public var initialRequestTimeout: Duration

    public init(bootRetrySpan: Duration = .seconds(20), initialRequestTimeout: Duration = .seconds(1800)) {
        self.bootRetrySpan = bootRetrySpan
        self.initialRequestTimeout = initialRequestTimeout
    }
}

/// When this process last sent a boot per server, and whether a 409 said the API has one in hand.
/// In memory only: a poll resumed on another worker starts a fresh span (and a needless re-send is
/// answered 409, which counts as accepted).
final class BootMemo: Sendable {
    private struct Entry {
        var sentAt: ContinuousClock.Instant
        var accepted: Bool
    }

    private let entries = Mutex<[SakuraID: Entry]>([:])

    func sent(_ id: SakuraID) {
        entries.withLock { $0[id] = Entry(sentAt: .now, accepted: false) }
    }

    func accepted(_ id: SakuraID) {
        entries.withLock { $0[id, default: Entry(sentAt: .now, accepted: true)].accepted = true }
    }

    /// True when a boot is due: none accepted by a 409, and the last sent `span` ago or more. A server
    /// never seen starts its span now.
    func due(_ id: SakuraID, after span: Duration) -> Bool {
        entries.withLock { entries in
            guard let entry = entries[id] else {
                entries[id] = Entry(sentAt: .now, accepted: false)
                return false
            }
            return !entry.accepted && ContinuousClock.now - entry.sentAt >= span
        }
    }
}
