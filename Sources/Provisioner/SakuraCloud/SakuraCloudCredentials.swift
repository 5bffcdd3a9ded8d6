/// An API key of SAKURA Cloud: the access token (Basic auth user) and its secret (Basic auth password).
///
/// The secret never shows in `description`, `debugDescription` or any error.
public struct SakuraCloudCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessToken: String
    public var accessTokenSecret: String

    public init(accessToken: String, accessTokenSecret: String) {
        self.accessToken = accessToken
        self.accessTokenSecret = accessTokenSecret
    }

    /// Reads `SAKURACLOUD_ACCESS_TOKEN` and `SAKURACLOUD_ACCESS_TOKEN_SECRET` (or the `SAKURA_ACCESS_TOKEN`,
    /// `SAKURA_ACCESS_TOKEN_SECRET` aliases) from `environment`.
    public static func fromEnvironment(
        _ environment: [String: String]
    ) throws(SakuraCloudError) -> SakuraCloudCredentials {
        let token = environment["SAKURACLOUD_ACCESS_TOKEN"] ?? environment["SAKURA_ACCESS_TOKEN"]
        let secret = environment["SAKURACLOUD_ACCESS_TOKEN_SECRET"] ?? environment["SAKURA_ACCESS_TOKEN_SECRET"]
        guard let token, !token.isEmpty else {
            throw SakuraCloudError(
                kind: .configuration("SAKURACLOUD_ACCESS_TOKEN is not set; set it to the API key's access token"))
        }
        guard let secret, !secret.isEmpty else {
            throw SakuraCloudError(
                kind: .configuration("SAKURACLOUD_ACCESS_TOKEN_SECRET is not set; set it to the API key's secret"))
        }
        return SakuraCloudCredentials(accessToken: token, accessTokenSecret: secret)
    }

    public var description: String { "SakuraCloudCredentials(accessToken: \(accessToken), secret: <redacted>)" }
    public var debugDescription: String { description }
}
