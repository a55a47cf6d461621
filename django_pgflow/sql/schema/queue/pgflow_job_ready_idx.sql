-- The any-queue claim's index (claim orders by -priority, an expression Django's
-- Index cannot write); gated jobs have their own (Job.Meta.indexes).
CREATE INDEX IF NOT EXISTS pgflow_job_ready_idx
    ON pgflow_job ((-(priority::integer)), run_at, id)
    WHERE status = 'queued' AND NOT gated;
