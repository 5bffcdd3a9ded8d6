import Foundation
import NIOSSH
import Synchronization

/// A `known_hosts` file that pins each endpoint's host key on first contact (trust on first use).
///
/// Lines are `NAME KEYTYPE BASE64`, NAME being `host` or `[host]:port`; hashed names are not used.
public struct KnownHostsFile: Sendable {
    public let path: String
    private static let lock = Mutex(())

    /// - Parameter path: the file; created with the first pinned key.
    public init(path: String) {
        self.path = path
    }

    /// Drops the pinned key of `name` (`host` or `[host]:port`), e.g. when the node behind it is deleted, so a
    /// new node on the same address is pinned afresh instead of failing as a changed host key. Returns
    /// whether a line was removed.
    @discardableResult
    public func forget(_ name: String) -> Bool {
        Self.lock.withLock { _ in
            guard let existing = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
            let lines = existing.split(whereSeparator: \.isNewline)
            let kept = lines.filter { line in
                !(line.split(separator: " ", maxSplits: 1).first?.split(separator: ",").contains(Substring(name)) ?? false)
            }
            guard kept.count != lines.count else { return false }
            let text = kept.map { $0 + "\n" }.joined()
            return (try? text.write(toFile: path, atomically: true, encoding: .utf8)) != nil
        }
    }

    enum Verdict: Equatable {
        case pinnedNow
        case matches
        case changed(pinned: String)
    }

    /// Checks `key` for `name`: pins it when the name is new, else compares.
    func check(name: String, key: NIOSSHPublicKey) -> Verdict {
        let presented = String(openSSHPublicKey: key)
        return Self.lock.withLock { _ in
            let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            for line in existing.split(whereSeparator: \.isNewline) {
                let fields = line.split(separator: " ", maxSplits: 2)
                guard fields.count >= 3, fields[0].split(separator: ",").contains(Substring(name)) else { continue }
                let pinnedLine = "\(fields[1]) \(fields[2].split(separator: " ").first ?? "")"
                if pinnedLine == presented { return .matches }
                if let pinnedKey = try? NIOSSHPublicKey(openSSHPublicKey: pinnedLine) {
                    return .changed(pinned: SSHFingerprint.of(pinnedKey))
                }
                return .changed(pinned: "unreadable entry")
            }
            let entry = "\(name) \(presented)\n"
            if let handle = FileHandle(forWritingAtPath: path) {
                handle.seekToEndOfFile()
                handle.write(Data(entry.utf8))
                try? handle.close()
            } else {
                _ = FileManager.default.createFile(atPath: path, contents: Data(entry.utf8))
            }
            return .pinnedNow
        }
    }
}
