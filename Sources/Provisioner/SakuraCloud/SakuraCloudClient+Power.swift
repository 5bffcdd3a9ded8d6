import NIOHTTP1

/// Power calls, serialised per zone through the configuration's ``PowerCallGate``.
extension SakuraCloudClient {
    /// `PUT /server/{id}/power`. 409 `still_creating` while a disk copies (retryable later); 409 `conflict`
    /// when the server is already up — unless an earlier attempt of this call was lost, in which case the
    /// boot counts as accepted.
    public func powerOn(_ id: SakuraID) async throws {
        try await powerCall(.PUT, "/server/\(id)/power", body: nil)
    }

    /// `DELETE /server/{id}/power`, `{"Force":true}` when `force` (default false). 409
    /// `server_power_must_be_up` when it is down (accepted when an earlier attempt was lost).
    public func powerOff(_ id: SakuraID, force: Bool = false) async throws {
        try await powerCall(.DELETE, "/server/\(id)/power", body: force ? ["Force": true] : nil)
    }

    private func powerCall(_ method: HTTPMethod, _ path: String, body: [String: Bool]?) async throws {
        let client = self
        try await configuration.powerGate.withGate(zone: zone) {
            // A re-sent call answered "already up/down": an earlier attempt ran but its answer was lost.
            _ = try await client.sendRaw(method, path, body: body, doneCodes: ["conflict", "server_power_must_be_up"])
        }
    }
}
