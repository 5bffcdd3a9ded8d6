import Engine
import Foundation
import Yams

/// A service's SLOs in sloth's `prometheus/v1` format (https://sloth.dev), so that existing sloth files
/// work: `version`, `service`, `labels`, and `slos` with `name`, `objective`, `description`, `labels`,
/// `sli.events.error_query`/`total_query` or `sli.raw.error_ratio_query` (also spelled `errorRatioQuery`),
/// and `alerting.name`/`labels`/`annotations`/`page_alert`/`ticket_alert` (each with `disable`, `labels`,
/// `annotations`). Sloth's plugins are not supported (refused by name, never ignored).
public struct SLOSpec: Sendable, Equatable {
    public var service: String
    /// Labels of every rule of the service, in the file's order.
    public var labels: [Label]
    public var slos: [SLO]

    /// The one version this reads.
    public static let version = "prometheus/v1"

    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public struct SLO: Sendable, Equatable {
        public var name: String
        /// The target in percent, (0, 100], kept exact (99.9 stays 99.9).
        public var objective: Decimal
        public var description: String?
        public var labels: [Label]
        public var sli: SLI
        public var alerting: Alerting
    }

    public enum SLI: Sendable, Equatable {
        /// Bad and total events, each a query with `{{.window}}`.
        case events(errorQuery: String, totalQuery: String)
        /// The error ratio (0-1) directly, a query with `{{.window}}`.
        case raw(errorRatioQuery: String)
    }

    public struct Alerting: Sendable, Equatable {
        /// The alerts' name (required unless both alerts are disabled).
        public var name: String?
        public var labels: [Label]
        public var annotations: [Label]
        public var page: Alert
        public var ticket: Alert
    }

    public struct Alert: Sendable, Equatable {
        public var disable: Bool
        public var labels: [Label]
        public var annotations: [Label]
        static let enabled = Alert(disable: false, labels: [], annotations: [])
    }
}

extension SLOSpec {
    /// Every spec in `yaml` (one per YAML document, as sloth reads them). Errors are `invalidInput` and
    /// name the field (`slos[2].objective`) and the line in `source`.
    public static func parse(_ yaml: String, source: String = "input") throws -> [SLOSpec] {
        let documents: [Node]
        do {
            documents = try Array(Yams.compose_all(yaml: yaml)).filter { $0.mapping?.isEmpty != true }
        } catch let error as YamlError {
            throw KajiError(.invalidInput, "\(source) is not valid YAML: \(error)", field: "file")
        }
        guard !documents.isEmpty else {
            throw KajiError(.invalidInput, "\(source) holds no SLO spec (expected version: \"prometheus/v1\", service, slos)", field: "file")
        }
        return try documents.map { try SpecReader(source: source).spec($0) }
    }
}

/// Reads one document, naming fields and lines in its errors.
private struct SpecReader {
    let source: String

    func fail(_ field: String, _ node: Node?, _ message: String) -> KajiError {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        return KajiError(.invalidInput, "\(field) \(message) (\(source)\(line))", field: field)
    }

    /// The mapping at `field`, refusing keys outside `known` (a typo must not silently drop a setting).
    func mapping(_ node: Node, _ field: String, known: [String], unsupported: [String: String] = [:]) throws -> Node.Mapping {
        guard let mapping = node.mapping else { throw fail(field, node, "must be a mapping") }
        for key in mapping.keys {
            let name = key.string ?? "?"
            let path = field.isEmpty ? name : "\(field).\(name)"
            if let why = unsupported[name] { throw fail(path, key, why) }
            guard known.contains(name) else {
                throw fail(path, key, "is not a field of sloth's prometheus/v1 spec here (known: \(known.joined(separator: ", ")))")
            }
        }
        return mapping
    }

    /// The string at `field`, which must be there.
    func requiredString(_ node: Node?, _ field: String, parent: Node?) throws -> String {
        guard let value = try string(node, field, parent: parent) else { throw fail(field, node ?? parent, "is required") }
        return value
    }

    /// The string at `field`; a missing one is named at its `parent`'s line.
    func string(_ node: Node?, _ field: String, required: Bool = true, parent: Node? = nil) throws -> String? {
        guard let node, node.null == nil else {
            if required { throw fail(field, node ?? parent, "is required") }
            return nil
        }
        guard let scalar = node.scalar else { throw fail(field, node, "must be a string") }
        return scalar.string
    }

    func labels(_ node: Node?, _ field: String) throws -> [SLOSpec.Label] {
        guard let node, node.null == nil else { return [] }
        guard let mapping = node.mapping else { throw fail(field, node, "must be a mapping of label names to values") }
        var labels: [SLOSpec.Label] = []
        for (key, value) in mapping {
            let name = key.string ?? ""
            guard PromNames.isLabelName(name) else {
                throw fail("\(field).\(name)", key, "is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
            }
            guard let scalar = value.scalar else { throw fail("\(field).\(name)", value, "must be a string") }
            labels.append(SLOSpec.Label(name, scalar.string))
        }
        return labels
    }

    func spec(_ root: Node) throws -> SLOSpec {
        let map = try mapping(root, "", known: ["version", "service", "labels", "slos"],
                              unsupported: ["slo_plugins": "(sloth's SLO plugins) is not supported by kaji slo rules: remove it or generate these rules with sloth"])
        let version = try requiredString(map["version"], "version", parent: root)
        guard version == SLOSpec.version else {
            throw fail("version", map["version"], "'\(version)' is not supported: kaji slo rules reads \"\(SLOSpec.version)\" (sloth's Prometheus spec)")
        }
        let service = try requiredString(map["service"], "service", parent: root)
        guard !service.isEmpty, !service.contains(where: \.isNewline) else { throw fail("service", map["service"], "must be a non-empty single-line name") }
        let labels = try labels(map["labels"], "labels")
        guard let list = map["slos"]?.sequence, !list.isEmpty else { throw fail("slos", map["slos"] ?? root, "must list at least one SLO") }
        var slos: [SLOSpec.SLO] = []
        var names: Set<String> = []
        for (index, node) in list.enumerated() {
            let slo = try self.slo(node, "slos[\(index + 1)]")
            guard names.insert(slo.name).inserted else { throw fail("slos[\(index + 1)].name", node, "'\(slo.name)' is used by an earlier SLO: names must be unique") }
            slos.append(slo)
        }
        return SLOSpec(service: service, labels: labels, slos: slos)
    }

    func slo(_ node: Node, _ field: String) throws -> SLOSpec.SLO {
        let map = try mapping(node, field, known: ["name", "objective", "description", "labels", "sli", "alerting"],
                              unsupported: ["plugins": "(sloth's SLO plugins) is not supported by kaji slo rules"])
        let name = try requiredString(map["name"], "\(field).name", parent: node)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw fail("\(field).name", map["name"], "'\(name)' must be letters, digits, '-', '_' or '.'")
        }
        guard let objectiveNode = map["objective"], let text = objectiveNode.scalar?.string, let objective = Decimal(string: text),
              Double(text) != nil else {
            throw fail("\(field).objective", map["objective"] ?? node, "must be a number: the target in percent, e.g. 99.9")
        }
        guard objective > 0, objective <= 100 else {
            throw fail("\(field).objective", objectiveNode, "\(text) is out of range: a percentage in (0, 100], e.g. 99.9")
        }
        let description = try string(map["description"], "\(field).description", required: false)
        let labels = try labels(map["labels"], "\(field).labels")
        guard let sliNode = map["sli"] else { throw fail("\(field).sli", node, "is required: events (error_query, total_query) or raw (error_ratio_query)") }
        let sli = try self.sli(sliNode, "\(field).sli")
        let alerting = try self.alerting(map["alerting"], "\(field).alerting")
        return SLOSpec.SLO(name: name, objective: objective, description: description, labels: labels, sli: sli, alerting: alerting)
    }

    func sli(_ node: Node, _ field: String) throws -> SLOSpec.SLI {
        let map = try mapping(node, field, known: ["events", "raw"],
                              unsupported: ["plugin": "(an SLI plugin) is not supported by kaji slo rules: write the queries as events or raw"])
        switch (map["events"], map["raw"]) {
        case (let events?, nil):
            let events = try mapping(events, "\(field).events", known: ["error_query", "total_query"])
            let error = try query(events["error_query"], "\(field).events.error_query", parent: node)
            let total = try query(events["total_query"], "\(field).events.total_query", parent: node)
            return .events(errorQuery: error, totalQuery: total)
        case (nil, let raw?):
            let rawMap = try mapping(raw, "\(field).raw", known: ["error_ratio_query", "errorRatioQuery"])
            let key = rawMap["errorRatioQuery"] != nil ? "errorRatioQuery" : "error_ratio_query"
            return .raw(errorRatioQuery: try query(rawMap[key], "\(field).raw.\(key)", parent: node))
        case (.some, .some):
            throw fail(field, node, "has both events and raw: give one")
        case (nil, nil):
            throw fail(field, node, "needs events (error_query, total_query) or raw (error_ratio_query)")
        }
    }

    func query(_ node: Node?, _ field: String, parent: Node) throws -> String {
        let text = try requiredString(node, field, parent: parent).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw fail(field, node, "is required") }
        guard WindowTemplate.contains(text) else {
            throw fail(field, node, "must use {{.window}} as the range of its rates (e.g. rate(x_total[{{.window}}])): the rules evaluate it over 5m to 3d")
        }
        return text
    }

    func alerting(_ node: Node?, _ field: String) throws -> SLOSpec.Alerting {
        guard let node, node.null == nil else {
            throw fail(field, node, "is required: name, and page_alert/ticket_alert (each may say disable: true)")
        }
        let map = try mapping(node, field, known: ["name", "labels", "annotations", "page_alert", "ticket_alert"])
        let page = try alert(map["page_alert"], "\(field).page_alert")
        let ticket = try alert(map["ticket_alert"], "\(field).ticket_alert")
        let name = try string(map["name"], "\(field).name", required: !(page.disable && ticket.disable), parent: node)
        if let name, !PromNames.isMetricName(name) {
            throw fail("\(field).name", map["name"], "'\(name)' is not a valid alert name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        }
        return SLOSpec.Alerting(name: name, labels: try labels(map["labels"], "\(field).labels"),
                                annotations: try labels(map["annotations"], "\(field).annotations"), page: page, ticket: ticket)
    }

    func alert(_ node: Node?, _ field: String) throws -> SLOSpec.Alert {
        guard let node, node.null == nil else { return .enabled }
        let map = try mapping(node, field, known: ["disable", "labels", "annotations"])
        var disable = false
        if let flag = map["disable"] {
            guard let value = flag.bool else { throw fail("\(field).disable", flag, "must be true or false") }
            disable = value
        }
        return SLOSpec.Alert(disable: disable, labels: try labels(map["labels"], "\(field).labels"),
                             annotations: try labels(map["annotations"], "\(field).annotations"))
    }
}

/// Prometheus' name rules.
enum PromNames {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_", !name.hasPrefix("__") else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }
}

/// sloth's `{{.window}}` (also written `{{ .window }}`) in a query.
enum WindowTemplate {
    /// The ranges of `{{.window}}` templates in `query`.
    private static func matches(_ query: String) -> [Range<String.Index>] {
        var found: [Range<String.Index>] = []
        var cursor = query.startIndex
        while let open = query.range(of: "{{", range: cursor..<query.endIndex) {
            var index = open.upperBound
            func skipSpaces() { while index < query.endIndex, query[index] == " " { index = query.index(after: index) } }
            skipSpaces()
            guard query[index...].hasPrefix(".window") else { cursor = open.upperBound; continue }
            index = query.index(index, offsetBy: ".window".count)
            skipSpaces()
            guard query[index...].hasPrefix("}}") else { cursor = open.upperBound; continue }
            let end = query.index(index, offsetBy: 2)
            found.append(open.lowerBound..<end)
            cursor = end
        }
        return found
    }

    static func contains(_ query: String) -> Bool { !matches(query).isEmpty }

    /// The query with every `{{.window}}` replaced by `window` (e.g. `5m`).
    static func fill(_ query: String, window: String) -> String {
        var out = query
        for range in matches(query).reversed() { out.replaceSubrange(range, with: window) }
        return out
    }
}
