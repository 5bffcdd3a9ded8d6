import Engine
import Foundation

/// The clusters' API health as Prometheus metrics, from the results the workers stored (so `kaji serve`
/// exports one consistent set whichever worker checked): for `/metrics` of `kaji serve`.
///
/// - `kaji_cluster_apiserver_up{cluster}`: 1 when the last check got a readyz report (HTTP 200 or 500 with
///   the verdict line), 0 when it could not connect, failed TLS verification against the pinned CA, timed
///   out, or got another answer.
/// - `kaji_cluster_readyz_check_ok{cluster,check}`: 1 for each `[+]` line of the last report, 0 for each
///   `[-]` line (none while the API server is down).
/// - `kaji_cluster_readyz_passed{cluster}`: 1 when the last check passed (HTTP 200, `readyz check passed`).
/// - `kaji_cluster_readyz_duration_seconds{cluster}`: the last check's latency.
/// - `kaji_cluster_readyz_last_check_timestamp_seconds{cluster}`: when it was made (Unix time).
///
/// Clusters never checked, and deleted clusters, have no series.
public enum ClusterHealthMetrics {
    /// Reads the latest results through `client` and renders them.
    public static func render(client: KajiClient) async throws -> String {
        render(try await client.clusterHealth())
    }

    /// The text format (HELP and TYPE for each family, every sample of a family together); empty families are
    /// still declared.
    public static func render(_ health: [ClusterHealth]) -> String {
        var out = ""
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += "\(name){\(labels)} \(sample.value)\n"
            }
        }
        let sorted = health.sorted { $0.cluster < $1.cluster }
        family("kaji_cluster_apiserver_up",
               "Whether the cluster's API server answered the last GET /readyz?verbose=true with a readyz report (1), or could not be reached, failed TLS verification against the pinned CA, timed out or answered otherwise (0).",
               sorted.map { (labels: [("cluster", $0.cluster)], value: $0.latest.up ? "1" : "0") })
        family("kaji_cluster_readyz_check_ok",
               "Each readyz check of the cluster's API server in the last report: 1 for a [+] line, 0 for a [-] line.",
               sorted.flatMap { item in
                   item.latest.checks.map { (labels: [("cluster", item.cluster), ("check", $0.name)], value: $0.ok ? "1" : "0") }
               })
        family("kaji_cluster_readyz_passed",
               "Whether the last readyz check of the cluster passed (HTTP 200 and 'readyz check passed').",
               sorted.map { (labels: [("cluster", $0.cluster)], value: $0.latest.passed ? "1" : "0") })
        family("kaji_cluster_readyz_duration_seconds",
               "Latency of the last readyz check of the cluster's API server, from connecting to the end of the answer or the failure.",
               sorted.map { (labels: [("cluster", $0.cluster)], value: String(format: "%.6f", $0.latest.durationSeconds)) })
        family("kaji_cluster_readyz_last_check_timestamp_seconds",
               "When the last readyz check of the cluster was recorded, Unix time.",
               sorted.map { (labels: [("cluster", $0.cluster)], value: String(format: "%.3f", $0.latest.checkedAt.timeIntervalSince1970)) })
        return out
    }

    /// A label value with `\`, `"` and line feeds escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
