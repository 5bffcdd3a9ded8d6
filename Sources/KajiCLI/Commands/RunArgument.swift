import Engine
import Foundation

enum RunArgument {
    /// Parses a run id, naming the argument when it is not a UUID.
    static func parse(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else {
            throw KajiError(.invalidArgument, "RUN '\(text)' is not a run id (a UUID such as 6f1c2d3e-0a4b-4c5d-8e9f-001122334455)")
        }
        return id
    }
}
