extension SakuraCloudConfiguration {
    /// A configuration from environment variables: `SAKURACLOUD_ACCESS_TOKEN`,
    /// `SAKURACLOUD_ACCESS_TOKEN_SECRET` (required), `SAKURACLOUD_ZONE` (default `is1a`) and
    /// `KAJI_SAKURA_BASE_URL` (default `https://secure.sakura.ad.jp`; a `sakura-sim` URL in tests and demos).
    public static func fromEnvironment(_ environment: [String: String]) throws(SakuraCloudError) -> SakuraCloudConfiguration {
        let credentials = try SakuraCloudCredentials.fromEnvironment(environment)
        let zone = environment["SAKURACLOUD_ZONE"].flatMap { $0.isEmpty ? nil : $0 } ?? "is1a"
        let known = ["is1a", "is1b", "is1c", "tk1a", "tk1b", "tk1v"]
        guard known.contains(zone) else {
            throw SakuraCloudError(
                kind: .configuration("SAKURACLOUD_ZONE is `\(zone)`; use one of \(known.joined(separator: ", "))"))
        }
        let base = environment["KAJI_SAKURA_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://secure.sakura.ad.jp"
        guard base.hasPrefix("https://") || base.hasPrefix("http://127.") || base.hasPrefix("http://localhost") else {
            throw SakuraCloudError(
                kind: .configuration("KAJI_SAKURA_BASE_URL `\(base)` must be https (or http on loopback for the simulator)"))
        }
        return SakuraCloudConfiguration(baseURL: base, zone: zone, credentials: credentials)
    }
}
