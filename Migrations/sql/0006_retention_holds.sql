-- Runs that retention (`kaji prune`, KAJI_RETENTION) must keep whatever their age, with why. Prune reads
-- only this view, so the engine's SQL names no domain table; a later migration may widen it (CREATE OR
-- REPLACE VIEW) with other holds.
--
-- A failed or cancelled run that a cluster's inventory still names as its last operation is how that
-- cluster is recovered (`kaji retry` resumes it, its steps and results tell what exists): it is kept for
-- as long as the inventory points to it.
CREATE VIEW run_retention_holds AS
    SELECT r.id AS run_id, 'last operation of cluster ' || c.name AS reason
    FROM clusters AS c
    JOIN runs AS r ON r.id = c.last_run_id
    WHERE r.state IN ('failed', 'cancelled');
