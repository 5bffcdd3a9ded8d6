/// Kaji's own SLOs for the platform, in sloth's `prometheus/v1` format: what `kaji slo rules` generates
/// rules for without `-f`, and what `kaji slo spec` prints as a start for a file of one's own.
public enum BuiltinSLOs {
    /// Seconds a provision may take to Ready (first start to end, approvals not counted) and still count as
    /// good: 30 minutes, one of `kaji_run_duration_seconds`' bucket bounds.
    public static let provisioningThresholdSeconds = 1800
    /// Hours a ready cluster's last successful backup may be old and still count as fresh: 26 (a nightly
    /// schedule with two hours of slack).
    public static let backupFreshnessHours = 26

    /// The spec, as YAML.
    public static let yaml = """
        # Kaji's platform SLOs in sloth's prometheus/v1 format (https://sloth.dev/specs/default/).
        # `kaji slo rules` turns them into Prometheus recording and alerting rules (multi-window, multi-burn-rate);
        # `kaji slo rules -f FILE` does the same for a file of your own, e.g. this one edited.
        #
        # The metrics come from `kaji serve` (/metrics: kaji_cluster_*, from the database) and from every
        # `kaji worker --metrics-listen` (kaji_runs_finished_total, kaji_run_duration_seconds).
        version: "prometheus/v1"
        service: "kaji"
        labels:
          owner: "platform"
        slos:
          # Kaji checks each ready cluster's kube-apiserver (GET /readyz?verbose) every 30 s (healthCheck.interval).
          # A check is good when the API answered and readyz passed (kaji_cluster_readyz_passed 1); one that
          # cannot connect, fails TLS or times out, and one answered with a failing check (e.g. etcd: HTTP 500,
          # kaji_cluster_apiserver_up still 1), is an error. 99.9% allows 43 minutes of failed checks per cluster
          # in 30 days.
          - name: "cluster-api-availability"
            objective: 99.9
            description: "Each ready cluster's kube-apiserver answers Kaji's health checks and its /readyz passes."
            sli:
              raw:
                error_ratio_query: |
                  1 - avg by (cluster) (avg_over_time(kaji_cluster_readyz_passed[{{.window}}]))
            alerting:
              name: "KajiClusterAPIUnavailable"
              labels:
                category: "availability"
              annotations:
                summary: "The API of cluster {{$labels.cluster}} fails Kaji's health checks too often."
              page_alert:
                labels:
                  severity: "critical"
              ticket_alert:
                labels:
                  severity: "warning"

          # Provisions that end failed, of those that end (cancelled ones are someone's choice, not an error).
          - name: "provisioning-success"
            objective: 95
            description: "Cluster provisions succeed."
            sli:
              events:
                error_query: sum(rate(kaji_runs_finished_total{kind="cluster.provision",outcome="failed"}[{{.window}}]))
                total_query: sum(rate(kaji_runs_finished_total{kind="cluster.provision",outcome=~"succeeded|failed"}[{{.window}}]))
            alerting:
              name: "KajiProvisioningFailing"
              labels:
                category: "provisioning"
              annotations:
                summary: "Too many cluster provisions fail."
              page_alert:
                labels:
                  severity: "critical"
              ticket_alert:
                labels:
                  severity: "warning"

          # Successful provisions that took more than 30 minutes from their first start to Ready, approval
          # waits not counted (kaji_run_duration_seconds leaves out time spent waiting for signals).
          - name: "provisioning-time-to-ready"
            objective: 90
            description: "Cluster provisions reach Ready within 30 minutes (approval waits not counted)."
            sli:
              events:
                error_query: |
                  sum(rate(kaji_run_duration_seconds_count{kind="cluster.provision",outcome="succeeded"}[{{.window}}]))
                  -
                  sum(rate(kaji_run_duration_seconds_bucket{kind="cluster.provision",outcome="succeeded",le="1800.0"}[{{.window}}]))
                total_query: sum(rate(kaji_run_duration_seconds_count{kind="cluster.provision",outcome="succeeded"}[{{.window}}]))
            alerting:
              name: "KajiProvisioningSlow"
              labels:
                category: "provisioning"
              annotations:
                summary: "Cluster provisions take longer than 30 minutes to reach Ready too often."
              page_alert:
                disable: true
              ticket_alert:
                labels:
                  severity: "warning"

          # The share of time each ready cluster's last successful backup is older than 26 hours (a cluster
          # without any counts from its creation). Sampled every 5 minutes.
          - name: "backup-freshness"
            objective: 99
            description: "Each ready cluster has a successful backup less than 26 hours old."
            sli:
              raw:
                error_ratio_query: |
                  avg by (cluster) (avg_over_time(((time() - max by (cluster) (kaji_cluster_last_backup_success_timestamp_seconds)) > bool 93600)[{{.window}}:5m]))
            alerting:
              name: "KajiBackupStale"
              labels:
                category: "backup"
              annotations:
                summary: "The backups of cluster {{$labels.cluster}} are older than 26 hours."
              page_alert:
                labels:
                  severity: "critical"
              ticket_alert:
                labels:
                  severity: "warning"

        """
}
