import Foundation
import Logging
import PostgresNIO

/// The engine's one door for every face (the CLI, the HTTP server, Slack, tests): enqueue, runs, signals,
/// cancel and retry, schedules, secrets, audit and retention. Requests are checked against the workflow
/// `catalog` before anything is stored; no service (cloud, SSH) is needed.
///
/// Inputs and outputs are plain models (the `--json` documents are in `Documents.swift`); errors are
/// `KajiError`s with a code, a message and the offending field in the caller's terms (`queue`,
/// `concurrencyKey`, `payload.reason`), never a command-line flag.
public struct KajiClient: Sendable {
    /// The storage behind the door: package-internal, for the engine's own modules (the worker, the
    /// cluster service); faces call the client's methods.
    package let store: RunStore
    /// The workflow kinds this client checks requests against.
    public let catalog: WorkflowCatalog

    /// A client on a store (tests, the worker's own process).
    package init(store: RunStore, catalog: WorkflowCatalog) {
        self.store = store
        self.catalog = catalog
    }

    /// A client on a running PostgreSQL client (the caller runs `client.run()`, e.g. in a service group).
    public init(postgres: PostgresClient, config: DatabaseConfig, catalog: WorkflowCatalog, logger: Logger) {
        self.init(store: RunStore(client: postgres, config: config, logger: logger), catalog: catalog)
    }

    /// Runs `body` with a client connected to `config`'s database; fails within seconds if the database is
    /// unreachable. The connections are closed when `body` returns.
    public static func withConnection<T: Sendable>(_ config: DatabaseConfig, catalog: WorkflowCatalog, logger: Logger,
                                                   _ body: @Sendable (KajiClient) async throws -> T) async throws -> T {
        try await config.checkReachable(logger: logger)
        // The pool logs a harmless start-up race at warning level; one-shot callers keep it quiet.
        var logger = logger
        logger.logLevel = max(logger.logLevel, .error)
        let postgres = PostgresClient(configuration: config.clientConfiguration(), backgroundLogger: logger)
        let client = KajiClient(postgres: postgres, config: config, catalog: catalog, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await postgres.run() }
            do {
                let result = try await body(client)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Checks an enqueue request without storing anything: kind, input, queue, priority and keys. Errors
    /// name the field (`kind`, `input`, `queue`, `priority`, `idempotencyKey`, `concurrencyKey`). Returns the
    /// request with the concurrency key the kind requires.
    public static func check(_ request: EnqueueRequest, catalog: WorkflowCatalog) throws -> EnqueueRequest {
        try validate(queue: request.queue, priority: request.priority, idempotencyKey: request.idempotencyKey)
        try validate(concurrencyKey: request.concurrencyKey)
        try catalog.validate(kind: request.kind, input: request.input)
        var request = request
        request.concurrencyKey = try catalog.concurrencyKey(kind: request.kind, input: request.input, given: request.concurrencyKey)
        return request
    }

    /// Enqueues one run after checking its kind, input, queue and priority. Bad input changes nothing.
    /// A kind with a concurrency-key rule (the cluster operations: `cluster:NAME`) gets its key when the
    /// request has none, and refuses a different one.
    public func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        let request = try Self.check(request, catalog: catalog)
        let policy = try catalog.retryPolicy(kind: request.kind)
        return try await store.enqueue(request, maxAttempts: policy.maxAttempts)
    }

    /// Enqueues many runs of one kind in one round trip, after checking every input (an error names the
    /// input by its 1-based number: field `inputs[3]`).
    public func enqueueBatch(kind: String, inputs: [String], queue: String = "default", priority: Int = 0, runAt: Date? = nil, idempotencyKeys: [String?]? = nil, actor: String) async throws -> [EnqueueResult] {
        try Self.validate(queue: queue, priority: priority, idempotencyKey: nil)
        if let idempotencyKeys, idempotencyKeys.count != inputs.count {
            throw KajiError(.invalidArgument, "idempotencyKeys has \(idempotencyKeys.count) keys for \(inputs.count) inputs: give one per input (nil for none)", field: "idempotencyKeys")
        }
        for (index, input) in inputs.enumerated() {
            do {
                try catalog.validate(kind: kind, input: input)
            } catch let error as KajiError {
                throw KajiError(error.code, "input #\(index + 1): \(error.message)", field: error.code == .unknownKind ? "kind" : "inputs[\(index + 1)]")
            }
        }
        let policy = try catalog.retryPolicy(kind: kind)
        return try await store.enqueueBatch(kind: kind, inputs: inputs, queue: queue, priority: priority, runAt: runAt,
                                            idempotencyKeys: idempotencyKeys, maxAttempts: policy.maxAttempts, actor: actor)
    }

    static func validate(queue: String, priority: Int, idempotencyKey: String?) throws {
        guard !queue.isEmpty, queue.count <= 100, queue.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
            throw KajiError(.invalidArgument, "queue '\(queue)' is not valid: use 1-100 letters, digits and - _ . :", field: "queue")
        }
        guard (-32768...32767).contains(priority) else {
            throw KajiError(.invalidArgument, "priority \(priority) is out of range (-32768...32767; higher runs first)", field: "priority")
        }
        if let key = idempotencyKey, key.isEmpty || key.count > 500 {
            throw KajiError(.invalidArgument, "idempotencyKey must be 1-500 characters", field: "idempotencyKey")
        }
    }

    static func validate(concurrencyKey: String?) throws {
        if let key = concurrencyKey, key.isEmpty || key.count > 200 {
            throw KajiError(.invalidArgument, "concurrencyKey must be 1-200 characters (e.g. cluster:prod-a)", field: "concurrencyKey")
        }
    }

    /// Checks that `value` lies in `range`; the error names `field`.
    static func validate(_ value: Int, in range: ClosedRange<Int>, field: String) throws {
        guard range.contains(value) else {
            throw KajiError(.invalidArgument, "\(field) \(value) is out of range (\(range.lowerBound)...\(range.upperBound))", field: field)
        }
    }

    /// The actor string for a command-line user: `cli:USER@HOST`.
    public static func cliActor() -> String {
        let env = ProcessInfo.processInfo.environment
        let user = env["KAJI_ACTOR_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).flatMap { String(cString: $0.pointee.pw_name) } ?? "uid\(getuid())"
        return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}
