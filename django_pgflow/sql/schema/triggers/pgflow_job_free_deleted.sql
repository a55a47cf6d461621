-- A slot names the attempt it was given to; a deleted job's row shows nothing,
-- so its slots are cleared here, once per statement.
UPDATE pgflow_slot s SET job_id = NULL, attempt = NULL
WHERE s.job_id IN (SELECT o.id FROM old_rows o WHERE o.gated);
RETURN NULL;
