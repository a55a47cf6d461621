-- A web role that enqueues jobs and shows their status, without reading any
-- payload: grants-web.sql's enqueue functions, and these columns instead of
-- its SELECTs. (Starting flows from Python reads the run it started back:
-- use grants-web.sql for that.)
GRANT USAGE ON SCHEMA django_pgflow TO myapp_web;
GRANT EXECUTE ON FUNCTION
    django_pgflow.enqueue(text, text, jsonb, jsonb, integer, timestamptz, float8,
                          integer, float8, float8, float8, text, jsonb, text, jsonb),
    django_pgflow.enqueue_many(jsonb),
    django_pgflow.enqueue_batch(jsonb, integer[], jsonb, jsonb, jsonb)
    TO myapp_web;
GRANT SELECT (id, queue, task_name, status, priority, run_at, attempts, max_attempts,
              created_at, started_at, finished_at)
    ON pgflow_job TO myapp_web;
