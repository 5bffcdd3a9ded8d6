/// POSIX shell quoting for command lines sent over SSH.
public enum ShellQuote {
    /// `text` in single quotes, safe as one shell word (`'` becomes `'\''`).
    public static func quote(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@,+%".contains($0) }), text.allSatisfy(\.isASCII) {
            return text
        }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The words quoted and joined with spaces.
    public static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
