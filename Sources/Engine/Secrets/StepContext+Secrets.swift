import Foundation

extension StepContext {
    /// Stores `value` encrypted (under the key of `KAJI_SECRET_KEY` / `KAJI_SECRET_KEY_FILE`) and returns a
    /// `Secret` reference, which is safe to return as the step's result, log or put in an error. Fenced by
    /// the lease: a worker that lost the run stores nothing and gets `leaseLost`. Audited as
    /// `secret.stored` (id and name only).
    ///
    /// A step that fails after storing and is retried stores a new secret; the earlier one stays unused.
    public func storeSecret(_ value: String, name: String) async throws -> Secret {
        let key = try SecretKey.fromEnvironment()
        guard let secret = try await engine("storing secret '\(name)'", { [self] in try await store.storeSecret(lease, step: step, value: value, name: name, key: key) }) else {
            throw KajiError(.leaseLost, "run \(runID) is no longer held under epoch \(epoch): secret '\(name)' was not stored")
        }
        return secret
    }

    /// The value of a secret, for use inside this step (pass it on, never return or log it). Audited as
    /// `secret.revealed` by this worker, with the run and step.
    public func reveal(_ secret: Secret) async throws -> String {
        let keys = try SecretKeyring.fromEnvironment()
        return try await engine("revealing a secret", { [self] in try await store.revealSecret(secret, keys: keys, actor: lease.actor, runID: runID, step: step, worker: worker) })
    }
}

extension WorkflowContext {
    /// The value of a secret (see `StepContext.reveal`; prefer revealing inside the step that uses it, so that
    /// code between steps, which runs again on every resume, does not reveal it each time). Audited as
    /// `secret.revealed` by this worker.
    public func reveal(_ secret: Secret) async throws -> String {
        let keys = try SecretKeyring.fromEnvironment()
        return try await engine("revealing a secret", { [self] in try await store.revealSecret(secret, keys: keys, actor: lease.actor, runID: runID, worker: worker) })
    }
}
