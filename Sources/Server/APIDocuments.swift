import Engine
import Foundation
@_spi(Generated) import OpenAPIRuntime
import Workflows

// The hand-written types that stand for some schemas of openapi.yaml in the generated code
// (`typeOverrides` in openapi-generator-config.yaml), and the coding conventions of the generated server.

/// A response document of the engine (the CLI's `--json`, e.g. `RunPage`) standing for its schema of
/// openapi.yaml (`RunPage`) in the generated types. The engine's types are the single source of the JSON
/// shapes: which fields are left out and which are an explicit null (a page's `nextCursor`) stays theirs,
/// where a generated struct would leave every nil out.
///
/// It is only ever encoded: the server does not read these documents, and decoding one fails.
struct APIDocument<Value: Encodable & Sendable>: Codable, Hashable, Sendable {
    let value: Value
    /// Writes the document (default: `value` as it encodes itself).
    private let write: @Sendable (any Encoder) throws -> Void

    init(_ value: Value) {
        self.value = value
        self.write = { encoder in try value.encode(to: encoder) }
    }

    /// `value` standing for its schema, with `document` written in its place: a document that holds more
    /// than the schema's part of an `allOf` (see `getCluster`).
    init(_ value: Value, writing document: some Encodable & Sendable) {
        self.value = value
        self.write = { encoder in try document.encode(to: encoder) }
    }

    func encode(to encoder: any Encoder) throws { try write(encoder) }

    init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(Value.self) is a response document: the server does not read it"))
    }

    /// Equal when they encode to the same JSON (the generated types are Hashable; nothing compares these).
    static func == (lhs: Self, rhs: Self) -> Bool { lhs.json == rhs.json }
    func hash(into hasher: inout Hasher) { hasher.combine(json) }
    private var json: Data? { try? KajiJSON.encoder().encode(self) }
}

typealias PrincipalDocument = APIDocument<Principal>
typealias RunPageDocument = APIDocument<RunPage>
typealias RunSummaryDocument = APIDocument<RunSummary>
typealias RunShowDocument = APIDocument<RunDocument>
typealias EnqueueResultDocument = APIDocument<EnqueueResult>
typealias CancelReceiptDocument = APIDocument<CancelReceipt>
typealias ManifestReportDocument = APIDocument<ManifestReport>
typealias ApplyReportDocument = APIDocument<ApplyReport>
typealias ClusterDocument = APIDocument<ClusterRecord>
typealias ScheduleEntryDocument = APIDocument<ScheduleDocument>
typealias PruneResultDocument = APIDocument<PruneResult>
typealias TokenDocument = APIDocument<APITokenDocument>
typealias CreatedTokenDocument = APIDocument<CreatedAPIToken>
typealias AuditPageDocument = APIDocument<AuditPage>
typealias AuditVerificationDocument = APIDocument<AuditVerification>
typealias StoredSecretDocument = APIDocument<StoredSecret>
typealias SecretInfoDocument = APIDocument<SecretInfo>

// Request bodies that the generated types cannot express: openapi.yaml describes an enqueue (and a
// schedule) as one variant per documented kind, each with its input's schema, but the server takes every
// kind its catalog knows and leaves the kind and the input to the engine, whose errors say what is wrong
// (`unknown_kind`, `invalid_input` naming the input's field). Unknown fields are refused as the generated
// types refuse them.

/// `POST /api/v1/runs` (`EnqueueRequest`).
struct EnqueueBody: Codable, Hashable, Sendable {
    var kind: String
    var input: JSONValue?
    var queue: String?
    var priority: Int?
    var runAt: Date?
    var idempotencyKey: String?
    var concurrencyKey: String?

    init(from decoder: any Decoder) throws {
        try decoder.ensureNoAdditionalProperties(knownKeys: ["kind", "input", "queue", "priority", "runAt", "idempotencyKey", "concurrencyKey"])
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        input = try c.decodeIfPresent(JSONValue.self, forKey: .input)
        queue = try c.decodeIfPresent(String.self, forKey: .queue)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority)
        runAt = try c.decodeIfPresent(Date.self, forKey: .runAt)
        idempotencyKey = try c.decodeIfPresent(String.self, forKey: .idempotencyKey)
        concurrencyKey = try c.decodeIfPresent(String.self, forKey: .concurrencyKey)
    }

    func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}

/// `POST /api/v1/runs/batch` (`BatchRequest`).
struct BatchBody: Codable, Hashable, Sendable {
    var kind: String
    var inputs: [JSONValue]
    var queue: String?
    var priority: Int?
    var runAt: Date?
    var idempotencyKeys: [String?]?

    init(from decoder: any Decoder) throws {
        try decoder.ensureNoAdditionalProperties(knownKeys: ["kind", "inputs", "queue", "priority", "runAt", "idempotencyKeys"])
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        inputs = try c.decode([JSONValue].self, forKey: .inputs)
        queue = try c.decodeIfPresent(String.self, forKey: .queue)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority)
        runAt = try c.decodeIfPresent(Date.self, forKey: .runAt)
        idempotencyKeys = try c.decodeIfPresent([String?].self, forKey: .idempotencyKeys)
    }

    func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}

/// `POST /api/v1/schedules` (`ScheduleRequest`).
struct ScheduleBody: Codable, Hashable, Sendable {
    var name: String
    var cron: String
    var timezone: String?
    var kind: String
    var input: JSONValue?
    var queue: String?
    var priority: Int?
    var concurrencyKey: String?

    init(from decoder: any Decoder) throws {
        try decoder.ensureNoAdditionalProperties(knownKeys: ["name", "cron", "timezone", "kind", "input", "queue", "priority", "concurrencyKey"])
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        cron = try c.decode(String.self, forKey: .cron)
        timezone = try c.decodeIfPresent(String.self, forKey: .timezone)
        kind = try c.decode(String.self, forKey: .kind)
        input = try c.decodeIfPresent(JSONValue.self, forKey: .input)
        queue = try c.decodeIfPresent(String.self, forKey: .queue)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority)
        concurrencyKey = try c.decodeIfPresent(String.self, forKey: .concurrencyKey)
    }

    func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// A cluster manifest sent as JSON (`ClusterManifest`): the server validates manifests itself (every
/// problem with its field and line), so the body stays text. The gate (`APIGate`) hands a JSON manifest
/// to the generated server as the YAML it also is, so this type is never decoded; it exists because the
/// generated code names the schema.
struct ManifestJSON: Codable, Hashable, Sendable {
    init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a manifest is read as text"))
    }
    func encode(to encoder: any Encoder) throws {}
}

/// Dates as Kaji writes them everywhere (ISO 8601 with milliseconds, UTC); read with or without
/// fractional seconds.
struct KajiDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { KajiJSON.format(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = KajiJSON.parseDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "'\(text)' is not an ISO 8601 time"))
        }
        return date
    }
}

extension Configuration {
    /// The generated server's coding: the CLI's JSON (sorted keys, compact, unescaped slashes, Kaji's dates).
    static var kaji: Configuration {
        Configuration(dateTranscoder: KajiDateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
    }
}
