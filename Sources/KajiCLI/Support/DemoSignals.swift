import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signal that asked the demo to stop (0: none yet). Set by a C signal handler: an atomic store is
/// async-signal-safe.
private let demoStopSignal = Atomic<Int32>(0)

/// SIGINT (Ctrl-C) and SIGTERM for `kaji demo`. Without this, a signal would end the demo at once and leave
/// what it started (workers, `kaji serve`, the simulator, sshd, PostgreSQL) running. With it, the signal
/// cancels the demo's task, whose cleanup stops everything it started; a second signal exits at once.
///
/// A plain handler that sets a flag, not a dispatch source: a caught signal is reset to its default in the
/// children the demo starts (a dispatch source would leave the signal ignored or blocked in them, and
/// PostgreSQL and the workers must still stop on theirs).
enum DemoSignals {
    /// The demo was stopped by a signal before it finished.
    struct Interrupted: Error {
        let signal: Int32
        var exitCode: Int32 { 128 + signal }
    }

    /// Runs `body` in a task that SIGINT or SIGTERM cancels. What `body` returns after a signal (the
    /// `--serve` wait ends so) is the result; an error after a signal is `Interrupted`.
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        _ = demoStopSignal.load(ordering: .relaxed)  // initialised before any handler can touch it
        let handler: @convention(c) (Int32) -> Void = { signal in
            if demoStopSignal.exchange(signal, ordering: .relaxed) != 0 {
                _exit(128 + signal)  // a second signal: stop waiting for the cleanup
            }
        }
        let previousInt = Glibc.signal(SIGINT, handler)
        let previousTerm = Glibc.signal(SIGTERM, handler)
        defer {
            _ = Glibc.signal(SIGINT, previousInt)
            _ = Glibc.signal(SIGTERM, previousTerm)
        }
        let task = Task { try await body() }
        let watcher = Task {
            while demoStopSignal.load(ordering: .relaxed) == 0 {
                try await Task.sleep(for: .milliseconds(100))
            }
            let signal = demoStopSignal.load(ordering: .relaxed)
            FileHandle.standardError.write(Data("\nkaji demo: \(signal == SIGINT ? "interrupted" : "terminated"); stopping what the demo started…\n".utf8))
            task.cancel()
        }
        defer { watcher.cancel() }
        do {
            return try await task.value
        } catch {
            let signal = demoStopSignal.load(ordering: .relaxed)
            if signal != 0 { throw Interrupted(signal: signal) }
            throw error
        }
    }

    /// Waits until the task is cancelled (by a signal, see `run`).
    static func untilCancelled() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}
