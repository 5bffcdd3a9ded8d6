import Engine
import Foundation
import Workflows

/// The operations the CLI performs, typed with the documents it prints (`--json`): the same whether it
/// works on the database (`LocalBackend`, through `KajiClient` and `ClusterService`) or through `kaji serve`
/// (`RemoteBackend`, over HTTP with a bearer token). Errors are `KajiError`s with the field in the API's
/// terms either way, so that `ErrorFields` names the flags the same way.
///
/// The actor of what a local backend does is `cli:USER@HOST`; through a server it is the token's
/// `token:NAME` (the `actor` of a request is then ignored).
protocol KajiBackend: Sendable {
    func enqueue(_ request: EnqueueRequest) async throws -> EnqueueResult
    func runs(_ query: RunQuery) async throws -> RunPage
    func run(id: UUID) async throws -> RunDocument
    /// Calls `onChange` with each change of run `id` as it happens, from its first, until the run has
    /// finished; throws `invalidState` when `timeout` passes first.
    func follow(id: UUID, timeout: Duration, onChange: @escaping @Sendable (RunChange) async throws -> Void) async throws
    func retry(id: UUID) async throws -> RunSummary
    func cancel(runID: UUID, reason: String?) async throws -> CancelReceipt
    func signal(runID: UUID, name: String, payload: String) async throws -> SignalReceipt
    func decide(runID: UUID, approved: Bool, reason: String?) async throws -> SignalReceipt

    func addSchedule(_ request: ScheduleRequest) async throws -> ScheduleDocument
    func schedules() async throws -> [ScheduleDocument]
    func setSchedule(name: String, paused: Bool) async throws -> ScheduleDocument
    func removeSchedule(name: String) async throws

    func storeSecret(_ value: String, name: String) async throws -> StoredSecret
    func secrets(name: String?, limit: Int) async throws -> [SecretInfo]
    func revealSecret(_ secret: Secret) async throws -> RevealedSecret

    func audit(_ filter: AuditFilter, cursor: String?) async throws -> AuditPage
    func verifyAudit(expectHead: AuditHead?) async throws -> AuditVerification
    /// `olderThan` as the user wrote it (`30d`): checked by the caller with `KajiClient.age` first.
    func prune(olderThan: String, batchSize: Int) async throws -> PruneResult

    /// Applies a manifest checked by `ClusterService.validate` (its text goes to a server as it is).
    /// Throws `ApplyRefused` when the inventory refuses it.
    func apply(_ spec: ClusterSpec, manifest: String, dryRun: Bool) async throws -> ApplyReport
    func clusters() async throws -> [ClusterRecord]
    /// The cluster's record with its latest API health (nil when never checked).
    func cluster(named name: String) async throws -> ClusterRecordWithHealth

    /// `expires` as the user wrote it (`90d`), checked by the caller with `KajiClient.lifetime` first.
    func createToken(name: String, role: APIRole, expires: String?) async throws -> CreatedAPIToken
    func tokens() async throws -> [APITokenDocument]
    func revokeToken(name: String) async throws -> APITokenDocument
}
