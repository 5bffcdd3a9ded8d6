-- API tokens enter the audit trail: `kaji token create` records `token.created` and `kaji token revoke`
-- records `token.revoked` (actor: who did it; detail: the token's name, role and expiry, never the token or
-- its hash). AuditEventType gains both, so the closed set of 0007 is replaced by one that holds them.
--
-- Added NOT VALID, then validated: rows written by earlier versions hold only values of the old set, a
-- subset of this one. audit_events is append-only; a constraint changes no row.

ALTER TABLE audit_events DROP CONSTRAINT audit_events_type_known;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_type_known CHECK (type IN (
    'run.enqueued', 'run.claimed', 'run.suspended', 'run.released', 'run.retrying', 'run.retried',
    'run.compensating', 'run.cancel_requested', 'run.cancelled', 'run.succeeded', 'run.failed',
    'lease.expired',
    'step.started', 'step.waiting', 'step.succeeded', 'step.failed',
    'signal.sent', 'signal.received',
    'worker.started', 'worker.stopped',
    'schedule.added', 'schedule.paused', 'schedule.resumed', 'schedule.removed', 'schedule.ticked',
    'secret.stored', 'secret.revealed', 'secrets.rekeyed',
    'runs.pruned',
    'token.created', 'token.revoked'
)) NOT VALID;
ALTER TABLE audit_events VALIDATE CONSTRAINT audit_events_type_known;
