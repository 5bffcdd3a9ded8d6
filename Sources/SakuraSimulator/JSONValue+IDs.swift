extension JSONValue {
    /// The same tree with every decimal `ID` string turned into a number, as the API answers when the
    /// request carries `X-Sakura-Bigint-As-Int: 1`.
    func idsAsNumbers() -> JSONValue {
        switch self {
        case .array(let items):
            return .array(items.map { $0.idsAsNumbers() })
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, value) in members {
                if key == "ID", case .string(let text) = value, let number = Int64(text) {
                    result[key] = .number(Double(number))
                } else {
                    result[key] = value.idsAsNumbers()
                }
            }
            return .object(result)
        default:
            return self
        }
    }
}
