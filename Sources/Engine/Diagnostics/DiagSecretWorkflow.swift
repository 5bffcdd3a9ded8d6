import Foundation

/// `diag.secret`: a built-in workflow that shows secrets end to end, like the password rotation does. Step
/// `generate` makes a random password of `length` characters and stores it encrypted (its result is the
/// `Secret` reference only); step `use` reveals it and "uses" it, returning the reference and the length.
/// With `failUse` the `use` step fails with an error that mentions the secret (which prints as its
/// reference).
///
/// Needs `KAJI_SECRET_KEY` or `KAJI_SECRET_KEY_FILE` on the worker. When `KAJI_DIAG_SECRET_OUT` names a
/// file, `use` writes the revealed value there: a test side channel to learn the value it then looks for
/// everywhere else. Never set it in production.
public struct DiagSecretWorkflow: Workflow {
    public static let kind = "diag.secret"

    public struct Input: Codable, Sendable {
        /// The secret's name (default `diag-password`).
        public var name: String
        /// Password length (default 24, 8...256).
        public var length: Int
        /// Make step `use` fail after revealing (default false).
        public var failUse: Bool

        enum CodingKeys: String, CodingKey { case name, length, failUse }

        public init(name: String = "diag-password", length: Int = 24, failUse: Bool = false) {
            self.name = name
            self.length = length
            self.failUse = failUse
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? "diag-password"
            length = try c.decodeIfPresent(Int.self, forKey: .length) ?? 24
            failUse = try c.decodeIfPresent(Bool.self, forKey: .failUse) ?? false
            guard (8...256).contains(length) else {
                throw DecodingError.dataCorruptedError(forKey: .length, in: c, debugDescription: "must be 8...256, got \(length)")
            }
            guard !name.isEmpty, name.count <= 200 else {
                throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription: "must be 1-200 characters")
            }
        }
    }

    public struct Output: Codable, Sendable {
        public var secret: Secret
        public var length: Int
    }

    private let outPath: String?

    /// - Parameter outPath: where step `use` writes the revealed value (default `KAJI_DIAG_SECRET_OUT`; tests only).
    public init(outPath: String? = ProcessInfo.processInfo.environment["KAJI_DIAG_SECRET_OUT"]) {
        self.outPath = outPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func run(_ input: Input, context: WorkflowContext) async throws -> Output {
        let secret = try await context.step("generate") { step in
            let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
            var generator = SystemRandomNumberGenerator()
            let password = String((0..<input.length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
            let secret = try await step.storeSecret(password, name: input.name)
            step.logger.info("stored a new password", metadata: ["secret": "\(secret)"])
            return secret
        }
        let outPath = self.outPath
        return try await context.step("use", retry: .never) { step in
            let value = try await step.reveal(secret)
            if let outPath { try Data(value.utf8).write(to: URL(fileURLWithPath: outPath)) }
            step.logger.info("used the password", metadata: ["secret": "\(secret)", "length": "\(value.count)"])
            if input.failUse {
                throw WorkflowError("the target refused \(secret) (injected failure)", nonRetryable: true)
            }
            return Output(secret: secret, length: value.count)
        }
    }
}
