/// An error the simulated API answers with, in SAKURA Cloud's error shape
/// (`is_fatal`, `serial`, `status`, `error_code`, `error_msg`).
struct SimAPIError: Error, Sendable {
    var status: Int
    var code: String
    var message: String

    static func notFound(_ what: String) -> SimAPIError {
        SimAPIError(status: 404, code: "not_found", message: "対象が見つかりません。\(what) was not found")
    }

    static func conflict(_ code: String, _ message: String) -> SimAPIError {
        SimAPIError(status: 409, code: code, message: message)
    }

    static func badRequest(_ code: String, _ message: String) -> SimAPIError {
        SimAPIError(status: 400, code: code, message: message)
    }

    /// The reason phrase used in the `status` field, e.g. `409 Conflict`.
    static func statusLine(_ status: Int) -> String {
        let phrase: String
        switch status {
        case 400: phrase = "Bad Request"
        case 401: phrase = "Unauthorized"
        case 404: phrase = "Not Found"
        case 409: phrase = "Conflict"
        case 423: phrase = "Locked"
        case 429: phrase = "Too Many Requests"
        case 500: phrase = "Internal Server Error"
        case 503: phrase = "Service Unavailable"
        case 504: phrase = "Gateway Timeout"
        default: phrase = "Error"
        }
        return "\(status) \(phrase)"
    }

    func body(serial: String) -> JSONValue {
        [
            "is_fatal": true,
            "serial": .string(serial),
            "status": .string(Self.statusLine(status)),
            "error_code": .string(code),
            "error_msg": .string(message),
        ]
    }
}
