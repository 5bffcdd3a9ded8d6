/// `GET /{kind}?{json}`: the filters, paging and list envelope of the API's find calls.
///
/// Filter semantics: an array value matches exactly, OR between elements; a string value is a partial
/// match, AND between space-separated words; `Tags.Name` takes an array of tag groups (each group ANDs its
/// tags, groups OR) or a flat array (every tag must be present); numbers compare equal.
enum SimFind {
    static func run(items: [JSONValue], query: JSONValue?, listKey: String) throws(SimAPIError) -> JSONValue {
        var matched = items
        if let filter = query?["Filter"] {
            guard let conditions = filter.objectValue else {
                throw .badRequest("filter_invalid", "Filter must be a JSON object")
            }
            matched = matched.filter { item in
                conditions.allSatisfy { key, expected in matches(item: item, key: key, expected: expected) }
            }
        }
        let total = matched.count
        let from = max(query?["From"]?.intValue ?? 0, 0)
        let count = query?["Count"]?.intValue ?? 0
        var page = Array(matched.dropFirst(from))
        if count > 0 { page = Array(page.prefix(count)) }
        return [
            "Total": .number(Double(total)), "From": .number(Double(from)), "Count": .number(Double(page.count)),
            listKey: .array(page), "is_ok": true,
        ]
    }

    static func matches(item: JSONValue, key: String, expected: JSONValue) -> Bool {
        if key == "Tags.Name" || key == "Tags" {
            let tags = Set(item["Tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            guard let groups = expected.arrayValue else {
                return expected.stringValue.map { word in tags.contains { $0.contains(word) } } ?? false
            }
            if groups.allSatisfy({ $0.arrayValue != nil }) {
                return groups.contains { group in
                    group.arrayValue?.allSatisfy { tag in tag.stringValue.map(tags.contains) ?? false } ?? false
                }
            }
            return groups.allSatisfy { tag in tag.stringValue.map(tags.contains) ?? false }
        }
        let actual = item.value(atPath: key)
        switch expected {
        case .array(let options):
            return options.contains { option in equal(actual, option) }
        case .string(let words):
            guard let text = actual?.stringValue ?? actual?.idValue else { return false }
            return words.split(separator: " ").allSatisfy { text.contains($0) }
        default:
            return equal(actual, expected)
        }
    }

    static func equal(_ actual: JSONValue?, _ expected: JSONValue) -> Bool {
        guard let actual else { return false }
        if let left = actual.idValue ?? actual.stringValue, let right = expected.idValue ?? expected.stringValue {
            return left == right
        }
        return actual == expected
    }
}
