-- The any-queue claim's index leaves gated jobs (resources, a lock key, or a
-- queue with limits) to pgflow_job_gated_idx, like pgflow_job_ready_queue_idx
-- now does: a ready job waiting for its GPU is never scanned by the plain claim.
DROP INDEX IF EXISTS pgflow_job_ready_idx;
CREATE INDEX pgflow_job_ready_idx
    ON pgflow_job ((-(priority::integer)), run_at, id)
    WHERE status = 'queued' AND NOT gated;
