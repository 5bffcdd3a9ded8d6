import Engine
import Foundation

/// The frame of every dashboard page (head, style, navigation) and the small formats the pages share.
enum DashboardLayout {
    /// A page of a person logged in: navigation with their actor and role, and the logout button.
    static func page(title: String, call: DashboardCall, body: HTML, script: HTML? = nil) -> HTML {
        let navigation: HTML = """
            <a href="/runs">Runs</a><a href="/clusters">Clusters</a><a href="/audit">Audit</a>
            <span class="who">\(call.principal.actor) (\(call.principal.role.rawValue))</span>
            <form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="\(call.session.csrf)"><button type="submit">Log out</button></form>
            """
        let flash: HTML = call.flash.map { flash -> HTML in "<p class=\"flash \(flash.ok ? "ok" : "bad")\" role=\"status\">\(flash.message)</p>" } ?? .empty
        return document(title: title, nonce: call.nonce, navigation: navigation, body: "\(flash)\(body)", script: script)
    }

    /// A page with the navigation given (the login page has none).
    static func document(title: String, nonce: String, navigation: HTML, body: HTML, script: HTML? = nil) -> HTML {
        let scriptTag: HTML = script.map { code -> HTML in "<script nonce=\"\(nonce)\">\(code)</script>" } ?? .empty
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <link rel="icon" href="data:,">
            <title>\(title) · Kaji</title>
            <style nonce="\(nonce)">\(style)</style>
            </head>
            <body>
            <header><nav><a class="brand" href="/runs">Kaji</a>\(navigation)</nav></header>
            <main>
            \(body)
            </main>
            \(scriptTag)
            </body>
            </html>
            """
    }

    static let style: HTML = """
        :root{--ok:#2e7d32;--bad:#c62828;--run:#1565c0;--wait:#b7791f;--muted:#5f6368;--line:#dadce0}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fafafa}
        header{background:#1f2937;color:#fff}
        header nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center;max-width:1200px;margin:0 auto;padding:.5rem 1rem}
        header a{color:#fff;text-decoration:none}
        header a.brand{font-weight:700}
        header .who{margin-left:auto;font-size:.85rem;color:#d1d5db;overflow-wrap:anywhere}
        header form.logout button{padding:.1rem .5rem;font-size:.85rem}
        main{max-width:1200px;margin:0 auto;padding:1rem}
        h1{font-size:1.35rem;margin:.25rem 0 .75rem;overflow-wrap:anywhere}
        h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
        a{color:#1a56b0}
        .scroll{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;width:100%;font-size:.9rem}
        th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-weight:600;background:#f1f3f4}
        .wrap{overflow-wrap:break-word}
        .flash .wrap,dd .wrap,h1 .wrap{overflow-wrap:anywhere}
        .nowrap{white-space:nowrap}
        code{font-size:.85em}
        .badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.8rem;color:#fff;background:#6b7280;white-space:nowrap}
        .badge.succeeded,.badge.ok{background:var(--ok)}
        .badge.failed,.badge.bad{background:var(--bad)}
        .badge.running,.badge.pending{background:var(--run)}
        .badge.waiting,.badge.retrying{background:var(--wait)}
        .badge.cancelled{background:#4b5563}
        .flash{padding:.5rem .75rem;border-radius:.3rem;border:1px solid;overflow-wrap:anywhere}
        .flash.ok{background:#e8f5e9;border-color:var(--ok)}
        .flash.bad{background:#fdecea;border-color:var(--bad)}
        form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:.75rem 0 1rem}
        form.filters label,form.login label{display:flex;flex-direction:column;font-size:.8rem}
        input,select,button{font:inherit;max-width:100%}
        input,select{padding:.25rem;border:1px solid #9aa0a6;border-radius:.25rem;background:#fff}
        button{padding:.3rem .8rem;border-radius:.3rem;border:1px solid #555;background:#fff;color:#1a1a1a;cursor:pointer}
        button.approve{background:var(--ok);color:#fff;border-color:var(--ok)}
        button.reject,button.cancel{background:var(--bad);color:#fff;border-color:var(--bad)}
        .actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:.75rem 0}
        .actions form{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:0}
        form.login{display:flex;flex-direction:column;gap:.75rem;max-width:28rem}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
        dl.facts dt{color:var(--muted)}
        dl.facts dd{margin:0;overflow-wrap:anywhere}
        pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f1f3f4;padding:.5rem;font-size:.8rem;margin:.25rem 0}
        svg.timeline{width:100%;min-width:720px;height:auto;display:block}
        svg.timeline text{font:12px system-ui,sans-serif;fill:#1a1a1a}
        svg.timeline text.axis{fill:#5f6368}
        ul.legend{list-style:none;padding:0;margin:.5rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.85rem}
        ul.legend svg{vertical-align:middle;margin-right:.25rem}
        .muted{color:var(--muted)}
        .pager{margin:.75rem 0}
        @media (max-width:600px){dl.facts{grid-template-columns:1fr} dl.facts dt{font-weight:600} th,td{padding:.25rem} main{padding:.6rem}}
        """

    // MARK: formats

    /// `2026-11-26 12:34:56Z` (UTC).
    static func time(_ date: Date?) -> String {
        guard let date else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: date)
    }

    /// A time with its ISO 8601 form in `datetime`.
    static func timeTag(_ date: Date?) -> HTML {
        guard let date else { return .empty }
        return "<time datetime=\"\(KajiJSON.format(date))\">\(time(date))</time>"
    }

    /// `850 ms`, `12.3 s`, `4 m 05 s`, `2 h 10 m`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d m %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d m", whole / 3600, (whole % 3600) / 60)
    }

    /// The time between two dates (to now when `end` is nil).
    static func duration(from start: Date?, to end: Date?, now: Date = Date()) -> String {
        guard let start else { return "" }
        return duration((end ?? now).timeIntervalSince(start))
    }

    static func badge(_ text: String, _ tone: String? = nil) -> HTML {
        "<span class=\"badge \(tone ?? text)\">\(text)</span>"
    }

    /// A run id as a link to its page: its last 8 hex digits shown (the first ones are the time, alike for
    /// runs enqueued together), all of them in the title.
    static func runLink(_ id: UUID) -> HTML {
        let text = id.uuidString.lowercased()
        return "<a class=\"nowrap\" href=\"/runs/\(text)\" title=\"\(text)\"><code>…\(shortID(id))</code></a>"
    }

    /// The last 8 hex digits of a run id.
    static func shortID(_ id: UUID) -> String { String(id.uuidString.lowercased().suffix(8)) }

    /// The cluster a concurrency key names (`cluster:NAME`), or nil.
    static func cluster(ofKey key: String?) -> String? {
        guard let key, key.hasPrefix("cluster:") else { return nil }
        return String(key.dropFirst("cluster:".count))
    }

    /// A concurrency key: a cluster's as a link to the cluster, others as text.
    static func keyLink(_ key: String?) -> HTML {
        guard let key else { return .empty }
        if let cluster = cluster(ofKey: key) {
            return "<a href=\"/clusters/\(DashboardForm.encode(cluster))\">\(key)</a>"
        }
        return "\(key)"
    }
}
