import Foundation
import KajiTesting
import Testing

/// The kit's waits end at their deadline even when what they wait on never answers.
@Suite("Test kit: waits with a deadline", .timeLimit(.minutes(1)))
struct TestKitTests {
    @Test("eventually fails at its deadline when the condition itself hangs")
    func eventuallyBoundsAHangingCondition() async throws {
        let started = ContinuousClock.now
        await #expect(throws: KajiTestingError.self) {
            try await eventually("a condition that never answers", timeout: .milliseconds(300)) {
                try await Task.sleep(for: .seconds(3600))
                return true
            }
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("eventually returns once the condition holds, and passes on its error")
    func eventuallyHolds() async throws {
        var checks = 0
        try await eventually("the third check", timeout: .seconds(10)) {
            checks += 1
            return checks == 3
        }
        #expect(checks == 3)
        struct Broken: Error {}
        await #expect(throws: Broken.self) {
            try await eventually("a broken check", timeout: .seconds(10)) { throw Broken() }
        }
    }

    @Test("a process that outlives its deadline is killed and reaped, and the wait throws")
    func processDeadline() async throws {
        let sleeper = try ChildProcess("/bin/sleep", ["3600"])
        let started = ContinuousClock.now
        await #expect(throws: KajiTestingError.self) {
            try await sleeper.wait(timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(!sleeper.isRunning)
    }

    @Test("a finished process reports its exit code, stdout and stderr")
    func processResult() async throws {
        let result = try await ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(30))
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }
}
