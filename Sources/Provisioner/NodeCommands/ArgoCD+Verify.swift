/// Verifying a rotated Argo CD admin password without putting it on any command line.
extension ArgoCD {
    /// `argocd login --port-forward --port-forward-namespace argocd --username admin --insecure`, with no
    /// `--password`: the password is the command's stdin, so it appears in no process's arguments (unlike
    /// ``loginFromStdinCommand(server:)``, whose `--password "$KAJI_PW"` puts it in argocd's argv, visible
    /// in `ps`). The login goes through a port-forward to `argocd-server` using the node's admin kubeconfig,
    /// so no Argo CD address is needed.
    public static let loginWithStdinPasswordCommand =
        "argocd login --port-forward --port-forward-namespace argocd --username admin --insecure"

    /// Whether a bcrypt hash looks right (`$2a$`/`$2b$`/`$2y$`, 60 characters).
    public static func isBcryptHash(_ text: String) -> Bool {
        text.count == 60 && (text.hasPrefix("$2a$") || text.hasPrefix("$2b$") || text.hasPrefix("$2y$"))
    }
}
