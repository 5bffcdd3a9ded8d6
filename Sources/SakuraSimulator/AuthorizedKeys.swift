import Foundation
import Synchronization

/// Adds disk-edit SSH keys to the simulated nodes' `authorized_keys`, once each.
enum AuthorizedKeys {
    private static let lock = Mutex(())

    static func add(_ keys: [String], to path: String) {
        lock.withLock { _ in
            let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let present = Set(existing.split(whereSeparator: \.isNewline).map { Self.keyPart(String($0)) })
            var text = existing
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            var added = false
            for key in keys {
                let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
                guard trimmed.hasPrefix("ssh-"), !present.contains(keyPart(trimmed)) else { continue }
                text += trimmed + "\n"
                added = true
            }
            if added {
                try? text.write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
    }

    /// `TYPE BASE64` without the comment.
    static func keyPart(_ line: String) -> String {
        line.split(separator: " ").prefix(2).joined(separator: " ")
    }
}
