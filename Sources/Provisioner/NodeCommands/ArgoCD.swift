import Foundation

/// Command lines for rotating the Argo CD admin password (the secret values travel on stdin, never on the
/// command line).
public enum ArgoCD {
    /// Prints a bcrypt hash (cost 10) of the password given as stdin's first line, with python3's `bcrypt`
    /// module or, lacking it, libcrypt's `$2b$`. The password never appears on a command line.
    public static let bcryptFromStdinCommand = """
        python3 -W ignore -c 'import sys
        pw = sys.stdin.readline().rstrip("\\n")
        try:
            import bcrypt
            print(bcrypt.hashpw(pw.encode(), bcrypt.gensalt(10)).decode())
        except ImportError:
            import crypt
            print(crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))'
        """

    /// Reads a JSON patch from stdin and applies it to `argocd-secret`; send
    /// ``passwordPatch(bcryptHash:mtime:)`` as stdin.
    public static let patchSecretFromStdinCommand =
        "kubectl -n argocd patch secret argocd-secret --patch-file /dev/stdin"

    /// The patch setting `admin.password` (a bcrypt hash) and `admin.passwordMtime` (RFC 3339).
    public static func passwordPatch(bcryptHash: String, mtime: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let patch = ["stringData": ["admin.password": bcryptHash, "admin.passwordMtime": formatter.string(from: mtime)]]
        let data = (try? JSONSerialization.data(withJSONObject: patch, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Deletes the initial admin secret; succeeds when it is already gone.
    public static let deleteInitialSecretCommand =
        "kubectl -n argocd delete secret argocd-initial-admin-secret --ignore-not-found"

    /// `argocd login SERVER --username admin --insecure`, reading the password from stdin's first line.
    public static func loginFromStdinCommand(server: String) -> String {
        "IFS= read -r KAJI_PW; argocd login \(ShellQuote.quote(server)) --username admin --password \"$KAJI_PW\" --insecure"
    }
}
