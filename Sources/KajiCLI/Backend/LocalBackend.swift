import Engine
import Foundation
import Logging
import Server
import Workflows

/// The CLI on the database: every operation through `KajiClient` or `ClusterService`, recorded as
/// `cli:USER@HOST`. Secrets need the key in this process's environment (`KAJI_SECRET_KEY`).
struct LocalBackend: KajiBackend {
    let client: KajiClient
    let config: DatabaseConfig
    let logger: Logger
    let actor: String

    var clusters: ClusterService { ClusterService(client: client) }

    func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult {
        var request = request
        request.actor = actor
        return try await client.enqueue(request)
    }

    func runs(_ query: RunQuery) async throws -> RunPage { try await client.runPage(query) }

    func run(id: UUID) async throws -> RunDocument { RunDocument(try await client.run(id: id)) }

    func follow(id: UUID, timeout: Duration, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws {
        try await client.followChanges(id: id, timeout: timeout) { _, change in try await onChange(change) }
    }

    func retry(id: UUID) async throws -> RunSummary { try await client.retry(id: id, actor: actor) }

    func cancel(runID: UUID, reason: String?) async throws -> CancelReceipt {
        CancelReceipt(id: runID, outcome: try await client.cancel(runID: runID, reason: reason, actor: actor))
    }

    func signal(runID: UUID, name: String, payload: String) async throws -> SignalReceipt {
        try await client.signal(runID: runID, name: name, payload: payload, sender: actor)
    }

    func decide(runID: UUID, approved: Bool, reason: String?) async throws -> SignalReceipt {
        try await client.decide(runID: runID, approved: approved, reason: reason, sender: actor)
    }

    func addSchedule(_ request: ScheduleRequest) async throws -> ScheduleDocument {
        var request = request
        request.actor = actor
        return ScheduleDocument(try await client.addSchedule(request))
    }

    func schedules() async throws -> [ScheduleDocument] { try await client.schedules().map(ScheduleDocument.init) }

    func setSchedule(name: String, paused: Bool) async throws -> ScheduleDocument {
        ScheduleDocument(paused ? try await client.pauseSchedule(name: name, actor: actor) : try await client.resumeSchedule(name: name, actor: actor))
    }

    func removeSchedule(name: String) async throws { try await client.removeSchedule(name: name, actor: actor) }

    func storeSecret(_ value: String, name: String) async throws -> StoredSecret {
        try await client.storeSecret(value, name: name, key: try SecretKey.fromEnvironment(), actor: actor)
    }

    func secrets(name: String?, limit: Int) async throws -> [SecretInfo] { try await client.secrets(name: name, limit: limit) }

    func revealSecret(_ secret: Secret) async throws -> RevealedSecret {
        try await client.revealSecret(secret, keys: try SecretKeyring.fromEnvironment(), actor: actor)
    }

    func audit(_ filter: AuditFilter, cursor: String?) async throws -> AuditPage { try await client.auditPage(filter, cursor: cursor) }

    func verifyAudit(expectHead: AuditHead?) async throws -> AuditVerification { try await client.verifyAudit(expectHead: expectHead) }

    func prune(olderThan: String, batchSize: Int) async throws -> PruneResult {
        try await client.prune(olderThan: try AgeLimits.olderThan(olderThan), batchSize: batchSize, actor: actor)
    }

    func apply(_ spec: ClusterSpec, manifest: String, dryRun: Bool) async throws -> ApplyReport {
        try await KajiClient.requireCurrentSchema(config, logger: logger)
        return try await clusters.apply(spec, dryRun: dryRun, actor: actor)
    }

    func clusters() async throws -> [ClusterRecord] {
        try await KajiClient.requireCurrentSchema(config, logger: logger)
        return try await clusters.clusters()
    }

    func cluster(named name: String) async throws -> ClusterRecordWithHealth {
        try await KajiClient.requireCurrentSchema(config, logger: logger)
        let service = clusters
        return ClusterRecordWithHealth(record: try await service.cluster(named: name), health: try await service.health(of: name))
    }

    func createToken(name: String, role: APIRole, expires: String?) async throws -> CreatedAPIToken {
        let expiresAt = try expires.map { Date().addingTimeInterval(try AgeLimits.lifetime($0)) }
        return try await client.createToken(name: name, role: role, expiresAt: expiresAt, actor: actor)
    }

    func tokens() async throws -> [APITokenDocument] { try await client.tokens() }

    func revokeToken(name: String) async throws -> APITokenDocument { try await client.revokeToken(name: name, actor: actor) }
}
