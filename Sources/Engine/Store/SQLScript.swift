import Foundation

/// Splits a SQL script into statements (PostgreSQL's extended protocol takes one at a time). Understands
/// `--` and `/* */` comments, quoted strings and identifiers, and dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`).
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty && !isOnlyComments(text) { statements.append(text) }
            current = String.UnicodeScalarView()
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {
                while i < chars.count && chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/" && next == "*" {
                current.append(c); current.append("*"); i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { current.append(chars[i]); i += 1 }
                if i < chars.count { current.append("*"); current.append("/"); i += 2 }
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c { current.append(c); i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
                continue
            }
            if c == "$", let tagEnd = dollarTagEnd(chars, from: i) {
                let tag = chars[i...tagEnd]
                for s in tag { current.append(s) }
                i = tagEnd + 1
                while i < chars.count {
                    if chars[i] == "$" && i + tag.count <= chars.count && Array(chars[i..<(i + tag.count)]) == Array(tag) {
                        for s in tag { current.append(s) }
                        i += tag.count
                        break
                    }
                    current.append(chars[i]); i += 1
                }
                continue
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`, if one starts there.
    private static func dollarTagEnd(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var j = start + 1
        while j < chars.count {
            let s = chars[j]
            if s == "$" { return j }
            let ok = ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" || (j > start + 1 && ("0"..."9").contains(s))
            if !ok { return nil }
            j += 1
        }
        return nil
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") || $0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
