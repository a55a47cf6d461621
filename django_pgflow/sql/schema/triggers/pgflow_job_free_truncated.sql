-- TRUNCATE takes an exclusive lock on the table: no claim runs meanwhile.
UPDATE pgflow_slot SET job_id = NULL, attempt = NULL;
RETURN NULL;
