-- Closed sets are types: each set of strings the engine and the cluster workflows store is a Swift enum
-- whose raw values are exactly these strings, and the schema refuses any other, so that a value read back
-- is always one the code knows (an unknown one is an error, never a default).
--
--   audit_events.type      AuditEventType      (new here)
--   steps.wait ->> 'kind'  WaitKind            (new here)
--   step_attempts.outcome  StepAttemptOutcome  (CHECK since 0001)
--   clusters.state         ClusterState        (CHECK since 0004)
--   runs.state, steps.state, runs.phase        (CHECK since 0001, 0002)
--
-- Added NOT VALID, then validated: rows written by earlier versions hold only these values. audit_events
-- is append-only (its triggers refuse UPDATE and DELETE); a constraint changes no row.

ALTER TABLE audit_events ADD CONSTRAINT audit_events_type_known CHECK (type IN (
    'run.enqueued', 'run.claimed', 'run.suspended', 'run.released', 'run.retrying', 'run.retried',
    'run.compensating', 'run.cancel_requested', 'run.cancelled', 'run.succeeded', 'run.failed',
    'lease.expired',
    'step.started', 'step.waiting', 'step.succeeded', 'step.failed',
    'signal.sent', 'signal.received',
    'worker.started', 'worker.stopped',
    'schedule.added', 'schedule.paused', 'schedule.resumed', 'schedule.removed', 'schedule.ticked',
    'secret.stored', 'secret.revealed', 'secrets.rekeyed',
    'runs.pruned'
)) NOT VALID;
ALTER TABLE audit_events VALIDATE CONSTRAINT audit_events_type_known;

ALTER TABLE steps ADD CONSTRAINT steps_wait_kind_known
    CHECK (wait IS NULL OR wait ->> 'kind' IN ('sleep', 'signal', 'poll')) NOT VALID;
ALTER TABLE steps VALIDATE CONSTRAINT steps_wait_kind_known;
