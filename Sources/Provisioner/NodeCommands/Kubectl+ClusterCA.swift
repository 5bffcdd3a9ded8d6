import Foundation

extension Kubectl {
    /// Prints the cluster CA of the kubeconfig in use (`certificate-authority-data` of its current cluster,
    /// base64 of PEM) and nothing else: run with `KUBECONFIG=/etc/kubernetes/admin.conf`, it reads admin.conf
    /// without sending its client key over the wire.
    public static let clusterCACommand =
        "kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}'"

    /// The PEM text of ``clusterCACommand``'s output; nil when it printed nothing (a kubeconfig without
    /// embedded CA data) or not base64 of PEM certificates.
    public static func parseClusterCA(_ output: String) -> String? {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, let data = Data(base64Encoded: trimmed), let pem = String(data: data, encoding: .utf8),
              pem.contains("-----BEGIN CERTIFICATE-----"), pem.contains("-----END CERTIFICATE-----") else { return nil }
        return pem
    }
}
