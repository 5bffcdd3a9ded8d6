import Engine
import Foundation
import KajiTesting
import SLO
import Testing

/// `kaji slo rules`: sloth's prometheus/v1 spec in, Prometheus rules out; checked and tested with promtool.
@Suite("SLO rules", .timeLimit(.minutes(5)))
struct SLORulesTests {
    static var sloFolder: URL { TestEnvironment.repositoryRoot.appendingPathComponent("slo") }

    /// A spec of one's own, shaped like sloth's examples: an events SLI with labels and both alerts, and a raw
    /// SLI (written errorRatioQuery, as newer sloth files do) without a ticket alert.
    static let shopSpec = """
        version: "prometheus/v1"
        service: "shop"
        labels:
          team: "payments"
          tier: "1"
        slos:
          - name: "checkout-availability"
            objective: 99.5
            description: "Checkout answers without a server error."
            labels:
              tier: "0"
            sli:
              events:
                error_query: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
                total_query: sum(rate(http_requests_total{job="shop"}[{{ .window }}]))
            alerting:
              name: ShopCheckoutErrors
              labels:
                category: "availability"
              annotations:
                runbook: "https://runbooks.example/shop"
              page_alert:
                labels:
                  severity: page
              ticket_alert:
                labels:
                  severity: "ticket"
          - name: "stock-sync"
            objective: 99
            sli:
              raw:
                errorRatioQuery: |
                  1 - avg(avg_over_time(shop_stock_sync_ok[{{.window}}]))
            alerting:
              name: ShopStockSync
              ticket_alert:
                disable: true
        """

    @Test("a sloth spec becomes recording rules for every window, metadata and both burn-rate alerts")
    func generatesSlothShapedRules() throws {
        let specs = try SLOSpec.parse(Self.shopSpec, source: "shop.yaml")
        let groups = SLORules.groups(specs)
        #expect(groups.map(\.name) == [
            "sloth-slo-sli-recordings-shop-checkout-availability", "sloth-slo-meta-recordings-shop-checkout-availability",
            "sloth-slo-alerts-shop-checkout-availability",
            "sloth-slo-sli-recordings-shop-stock-sync", "sloth-slo-meta-recordings-shop-stock-sync", "sloth-slo-alerts-shop-stock-sync",
        ])
        let recordings = groups[0].rules.compactMap { rule -> (String, String, [SLOSpec.Label])? in
            if case .record(let name, let expr, let labels) = rule { return (name, expr, labels) }
            return nil
        }
        #expect(recordings.map(\.0) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"].map { "slo:sli_error:ratio_rate\($0)" })
        let oneHour = recordings[2]
        #expect(oneHour.1.contains(#"code=~"5.."}[1h]"#) && oneHour.1.contains(#"{job="shop"}[1h]"#) && !oneHour.1.contains("window"))
        // The SLO's labels override the service's; sloth's identity labels are added.
        #expect(oneHour.2.contains(SLOSpec.Label("tier", "0")) && oneHour.2.contains(SLOSpec.Label("team", "payments")))
        #expect(oneHour.2.contains(SLOSpec.Label("sloth_id", "shop-checkout-availability")) && oneHour.2.contains(SLOSpec.Label("sloth_window", "1h")))
        #expect(recordings[7].1.contains("sum_over_time(slo:sli_error:ratio_rate5m{") && recordings[7].1.contains("[30d]"))

        // Budget 0.5%: page at 14.4x over 1h and 5m or 6x over 6h and 30m; ticket at 3x (1d, 2h) or 1x (3d, 6h).
        guard case .record(_, let budget, _) = groups[1].rules[1], case .alert(let name, let page, let pageLabels, let pageNotes) = groups[2].rules[0],
              case .alert(_, let ticket, let ticketLabels, _) = groups[2].rules[1] else {
            Issue.record("unexpected rule shapes: \(groups[1].rules) \(groups[2].rules)")
            return
        }
        #expect(budget == "vector(1-0.995)")
        #expect(name == "ShopCheckoutErrors")
        #expect(page.contains("slo:sli_error:ratio_rate5m{") && page.contains("> (14.4 * 0.005)") && page.contains("slo:sli_error:ratio_rate1h{"))
        #expect(page.contains("slo:sli_error:ratio_rate30m{") && page.contains("> (6 * 0.005)") && page.contains("slo:sli_error:ratio_rate6h{"))
        #expect(ticket.contains("ratio_rate2h{") && ticket.contains("> (3 * 0.005)") && ticket.contains("ratio_rate1d{"))
        #expect(ticket.contains("ratio_rate6h{") && ticket.contains("> (1 * 0.005)") && ticket.contains("ratio_rate3d{"))
        #expect(pageLabels == [SLOSpec.Label("category", "availability"), SLOSpec.Label("severity", "page"), SLOSpec.Label("sloth_severity", "page")])
        #expect(ticketLabels.contains(SLOSpec.Label("sloth_severity", "ticket")) && ticketLabels.contains(SLOSpec.Label("severity", "ticket")))
        #expect(pageNotes.contains(SLOSpec.Label("runbook", "https://runbooks.example/shop")) && pageNotes.contains { $0.name == "title" })
        // A disabled ticket alert is left out; the raw SLI is used as is.
        #expect(groups[5].rules.count == 1)
        if case .record(_, let raw, _) = groups[3].rules[0] { #expect(raw.contains("shop_stock_sync_ok[5m]")) }
    }

    @Test("bad specs are refused with the field and line named")
    func refusesBadSpecs() throws {
        func error(_ yaml: String) -> KajiError? {
            do {
                _ = try SLOSpec.parse(yaml, source: "bad.yaml")
                return nil
            } catch let error as KajiError {
                return error
            } catch {
                return KajiError(.invalidInput, "\(error)")
            }
        }
        let base = Self.shopSpec
        let cases: [(String, String)] = [
            (base.replacingOccurrences(of: "objective: 99.5", with: "objective: 120"), "slos[1].objective"),
            (base.replacingOccurrences(of: "objective: 99\n", with: "objective: ninety\n"), "slos[2].objective"),
            (base.replacingOccurrences(of: "[{{ .window }}]", with: "[5m]"), "slos[1].sli.events.total_query"),
            (base.replacingOccurrences(of: "description:", with: "descripton:"), "slos[1].descripton"),
            (base.replacingOccurrences(of: #"version: "prometheus/v1""#, with: #"version: "openslo/v1""#), "version"),
            (base.replacingOccurrences(of: "name: ShopCheckoutErrors", with: "name: Shop Checkout"), "slos[1].alerting.name"),
            (base.replacingOccurrences(of: "      name: ShopStockSync\n", with: ""), "slos[2].alerting.name"),
            (base.replacingOccurrences(of: "  team:", with: "  __team:"), "labels.__team"),
            (base.replacingOccurrences(of: "raw:\n", with: "plugin:\n"), "slos[2].sli.plugin"),
            (base + "\nslo_plugins:\n  chain: []\n", "slo_plugins"),
            (base.replacingOccurrences(of: #"name: "stock-sync""#, with: #"name: "checkout-availability""#), "slos[2].name"),
        ]
        for (yaml, field) in cases {
            let failure = error(yaml)
            #expect(failure?.field == field, "expected an error naming \(field), got \(String(describing: failure))")
            #expect(failure?.message.hasPrefix(field) == true && failure?.message.contains("bad.yaml:") == true, "\(String(describing: failure?.message))")
        }
    }

    @Test("the repository's slo/ files are what the code generates")
    func committedFilesAreCurrent() throws {
        let spec = try String(contentsOf: Self.sloFolder.appendingPathComponent("kaji-slos.yaml"), encoding: .utf8)
        #expect(spec == BuiltinSLOs.yaml, "slo/kaji-slos.yaml differs from BuiltinSLOs.yaml: regenerate with `kaji slo spec > slo/kaji-slos.yaml`")
        let rules = try String(contentsOf: Self.sloFolder.appendingPathComponent("kaji-slo-rules.yaml"), encoding: .utf8)
        let generated = try SLORules.builtinRulesFile()
        #expect(rules == generated, "slo/kaji-slo-rules.yaml is stale: regenerate with `kaji slo rules -o slo/kaji-slo-rules.yaml`")
    }

    @Test("promtool check rules passes on the built-in rules and on a sloth spec's")
    func promtoolCheckRules() async throws {
        let folder = TestEnvironment.temporaryPath("rules", prefix: "kaji-slo")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let builtin = folder + "/builtin.yaml", shop = folder + "/shop.yaml"
        try SLORules.builtinRulesFile().write(toFile: builtin, atomically: true, encoding: .utf8)
        try SLORules.rulesFile(yaml: Self.shopSpec, source: "shop.yaml").write(toFile: shop, atomically: true, encoding: .utf8)
        let result = try await Promtool.run(["check", "rules", builtin, shop])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("SUCCESS"), "\(result)")
    }

    @Test("promtool test rules: a failing etcd check (API up, readyz not passed) and an unreachable API burn the budget and fire the page alert; a healthy cluster fires nothing")
    func promtoolTestRules() async throws {
        let test = Self.sloFolder.appendingPathComponent("tests/kaji-slo-rules.test.yaml").path
        let result = try await Promtool.run(["test", "rules", test])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("SUCCESS"), "\(result)")
    }

    @Test("kaji slo rules: built-in by default, -f for a file, -o to write; a bad file exits 2 naming the field")
    func command() async throws {
        let printed = try await KajiProcess.run(["slo", "rules"])
        let builtin = try SLORules.builtinRulesFile()
        #expect(printed.status == 0 && printed.stdout == builtin, "\(printed.stderr)")
        let spec = try await KajiProcess.run(["slo", "spec"])
        #expect(spec.status == 0 && spec.stdout == BuiltinSLOs.yaml)

        let input = TestEnvironment.temporaryPath("shop.yaml", prefix: "kaji-slo")
        let output = URL(fileURLWithPath: input).deletingLastPathComponent().appendingPathComponent("shop.rules.yaml").path
        try Self.shopSpec.write(toFile: input, atomically: true, encoding: .utf8)
        let written = try await KajiProcess.run(["slo", "rules", "-f", input, "-o", output])
        #expect(written.status == 0, "\(written)")
        let expected = try SLORules.rulesFile(yaml: Self.shopSpec, source: "shop.yaml")
        #expect(try String(contentsOfFile: output, encoding: .utf8) == expected)

        try Self.shopSpec.replacingOccurrences(of: "objective: 99.5", with: "objective: 0").write(toFile: input, atomically: true, encoding: .utf8)
        let refused = try await KajiProcess.run(["slo", "rules", "-f", input])
        #expect(refused.status == 2, "\(refused)")
        #expect(refused.stderr.contains("slos[1].objective") && refused.stdout.isEmpty, "\(refused)")
        let missing = try await KajiProcess.run(["slo", "rules", "-f", input + ".nope"])
        #expect(missing.status == 2 && missing.stderr.contains("file"), "\(missing)")
    }
}
