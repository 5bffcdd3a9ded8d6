import Synchronization

/// Serialises power calls (boot, shutdown, reset) of one zone, as the official Go client does, because
/// parallel power calls make the API answer 503.
///
/// The default, ``InProcessPowerGate``, serialises within one process. A worker pool spread over several
/// processes can supply a gate backed by a database lock.
public protocol PowerCallGate: Sendable {
    /// Runs `body` while holding the gate of `zone`.
    func withGate<T: Sendable>(zone: String, _ body: @Sendable () async throws -> T) async throws -> T
}

/// One FIFO lock per zone, shared by every client of the process.
public final class InProcessPowerGate: PowerCallGate {
    /// The process-wide gate.
    public static let shared = InProcessPowerGate()

    private let locks = Mutex<[String: AsyncLock]>([:])

    public init() {}

    public func withGate<T: Sendable>(zone: String, _ body: @Sendable () async throws -> T) async throws -> T {
        let lock = locks.withLock { locks in
            if let lock = locks[zone] { return lock }
            let lock = AsyncLock()
            locks[zone] = lock
            return lock
        }
        try await lock.lock()
        do {
            let value = try await body()
            await lock.unlock()
            return value
        } catch {
            await lock.unlock()
            throw error
        }
    }
}

/// A fair async mutex.
actor AsyncLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async throws {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
