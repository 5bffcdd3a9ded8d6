import Engine
import Foundation

/// Where `cluster.rotate-password` keeps a new password: encrypted, handing back only a reference that is
/// safe to store as a step result, log or show.
///
/// The engine's implementation stores it with `StepContext.storeSecret(_:name:)` (AES-GCM under
/// `KAJI_SECRET_KEY`) and returns the `Secret` reference.
public protocol PasswordVault: Sendable {
    associatedtype Reference: Codable & Sendable & Equatable & CustomStringConvertible

    /// Stores `value` encrypted under `name`, from inside the step that made it (fenced by its lease), and
    /// returns its reference. Must never log or echo the value.
    func store(_ value: String, name: String, in step: StepContext) async throws -> Reference
}

/// Random passwords for rotations.
enum PasswordGenerator {
    /// Letters and digits without the look-alikes `0 O 1 l I` (57 symbols, ~5.8 bits each).
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")

    /// A password of `length` characters (default 32, ~187 bits) from the system's secure generator.
    static func make(length: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<max(length, 24)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

/// The engine's secret store: `StepContext.storeSecret(_:name:)`, AES-GCM under `KAJI_SECRET_KEY` (or
/// `KAJI_SECRET_KEY_FILE`), fenced by the step's lease and audited as `secret.stored` (id and name only).
/// The reference is a `Secret` (`{"$secret": "<uuid>"}`); `kaji secret reveal` shows the value.
public struct EngineSecretVault: PasswordVault {
    public init() {}

    public func store(_ value: String, name: String, in step: StepContext) async throws -> Secret {
        try await step.storeSecret(value, name: name)
    }
}
