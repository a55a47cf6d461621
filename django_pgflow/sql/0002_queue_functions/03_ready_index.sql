-- The index of the any-queue claim (django_pgflow.claim with several queues or none).
-- It orders by -priority rather than priority DESC on purpose: the expression
-- appears only in that claim's ORDER BY, so the single-queue claim, which
-- matches pgflow_job_ready_queue_idx (a Django-managed index), cannot pick
-- this one instead when statistics are empty or stale (invariant 7).
CREATE INDEX IF NOT EXISTS pgflow_job_ready_idx
    ON pgflow_job ((-(priority::integer)), run_at, id)
    WHERE status = 'queued';
