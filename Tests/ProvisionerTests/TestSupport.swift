import AsyncHTTPClient
import Foundation
import KajiTesting
import NIOCore
import Provisioner
import SakuraSimulator
import Testing

/// `GET /_fake/state` over HTTP, as an outside observer sees it.
func fetchState(_ simulator: SakuraSimulator) async throws -> JSONValue {
    let response = try await HTTPClient.shared.execute(
        HTTPClientRequest(url: simulator.baseURL + "/_fake/state"), timeout: .seconds(5))
    let body = try await response.body.collect(upTo: 1 << 24)
    return try JSONValue.parse(Data(body.readableBytesView))
}

func count(_ state: JSONValue, _ key: String) -> Int {
    state[key]?.arrayValue?.count ?? -1
}

/// Expects `body` to throw a ``SakuraCloudError`` and returns it.
func expectCloudError(
    _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async -> SakuraCloudError? {
    do {
        try await body()
        Issue.record("expected a SakuraCloudError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as SakuraCloudError {
        return error
    } catch {
        Issue.record("expected a SakuraCloudError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
