import Foundation
import Logging
import PostgresNIO

/// The engine's front door for the CLI, the HTTP server and tests: validates requests against the
/// registered workflows before anything is stored.
public struct KajiClient: Sendable {
    public let store: RunStore
    public let registry: WorkflowRegistry

    public init(store: RunStore, registry: WorkflowRegistry) {
        self.store = store
        self.registry = registry
    }

    /// Enqueues one run after checking its kind, input, queue and priority. Bad input changes nothing.
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        try Self.validate(queue: request.queue, priority: request.priority, idempotencyKey: request.idempotencyKey)
        try registry.validate(kind: request.kind, input: request.input)
        let policy = try registry.retryPolicy(kind: request.kind)
        return try await store.enqueue(request, maxAttempts: policy.maxAttempts)
    }

    /// Enqueues many runs of one kind in one round trip, after checking every input.
    public func enqueueBatch(kind: String, inputs: [String], queue: String = "default", priority: Int = 0, runAt: Date? = nil, idempotencyKeys: [String?]? = nil, actor: String) async throws -> [EnqueueResult] {
        try Self.validate(queue: queue, priority: priority, idempotencyKey: nil)
        for (index, input) in inputs.enumerated() {
            do {
                try registry.validate(kind: kind, input: input)
            } catch let error as KajiError {
                throw KajiError(error.code, "input #\(index + 1): \(error.message)")
            }
        }
        let policy = try registry.retryPolicy(kind: kind)
        return try await store.enqueueBatch(kind: kind, inputs: inputs, queue: queue, priority: priority, runAt: runAt,
                                            idempotencyKeys: idempotencyKeys, maxAttempts: policy.maxAttempts, actor: actor)
    }

    static func validate(queue: String, priority: Int, idempotencyKey: String?) throws {
        guard !queue.isEmpty, queue.count <= 100, queue.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
            throw KajiError(.invalidArgument, "--queue '\(queue)' is not valid: use 1-100 letters, digits and - _ . :")
        }
        guard (-32768...32767).contains(priority) else {
            throw KajiError(.invalidArgument, "--priority \(priority) is out of range (-32768...32767; higher runs first)")
        }
        if let key = idempotencyKey, key.isEmpty || key.count > 500 {
            throw KajiError(.invalidArgument, "--idempotency-key must be 1-500 characters")
        }
    }
}

extension KajiClient {
    /// The actor string for a command-line user: `cli:USER@HOST`.
    public static func cliActor() -> String {
        let env = ProcessInfo.processInfo.environment
        let user = env["KAJI_ACTOR_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).flatMap { String(cString: $0.pointee.pw_name) } ?? "uid\(getuid())"
        return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}
