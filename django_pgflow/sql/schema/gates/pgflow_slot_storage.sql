-- Room on each page of this small, hot table for the claims' HOT updates: a
-- claim writes (job_id, attempt) into the slots it gives out, and no indexed
-- column changes.
ALTER TABLE pgflow_slot SET (fillfactor = 50);
