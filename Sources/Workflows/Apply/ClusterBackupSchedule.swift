import Engine
import Foundation

/// The nightly backup a manifest asks for (`velero.schedule`): one engine schedule per cluster, named
/// `backup:NAME`, that enqueues `cluster.backup` with the cluster's concurrency key at each tick.
///
/// `kaji apply` computes it and calls `register(with:actor:)` on every apply, so the engine's
/// schedule follows the manifest (a provisioning workflow may call it too once the cluster is ready).
public struct ClusterBackupSchedule: Codable, Sendable, Equatable {
    /// `backup:NAME` (schedule names allow letters, digits and `- _ . :`).
    public var name: String
    /// The manifest's 5-field cron, e.g. `0 3 * * *`.
    public var cron: String
    /// The zone the cron is read in (default `UTC`).
    public var timezone: String
    /// `cluster.backup`.
    public var kind: String
    /// `cluster:NAME`: a backup never overlaps another operation on the cluster.
    public var concurrencyKey: String
    /// The cluster to back up.
    public var cluster: String
    /// Velero's storage location and TTL from the manifest.
    public var storageLocation: String
    public var ttl: String?
    /// The input of every scheduled run, `{"cluster":"NAME"}` (a `BackupInput` without a name: each run
    /// names its backup `NAME-YYYYMMDD-HHMMSS` when it starts).
    public var input: String

    /// The schedule of a spec, nil when it has no `velero.schedule`.
    public init?(spec: ClusterSpec, timezone: String = "UTC") {
        guard let velero = spec.velero, let cron = velero.schedule else { return nil }
        self.name = "backup:\(spec.name)"
        self.cron = cron
        self.timezone = timezone
        self.kind = ClusterKinds.backup
        self.concurrencyKey = spec.concurrencyKey
        self.cluster = spec.name
        self.storageLocation = velero.storageLocation
        self.ttl = velero.ttl
        self.input = (try? KajiJSON.string(["cluster": spec.name])) ?? "{}"
    }
}
