-- Optional: let the web role cancel, retry and run now jobs, cancel and resume runs
-- (the admin's actions, or a "cancel my import" button), and show workers.
GRANT EXECUTE ON FUNCTION
    django_pgflow.cancel(bigint),
    django_pgflow.retry(bigint, float8),
    django_pgflow.run_now(bigint),
    django_pgflow.cancel_run(bigint),
    django_pgflow.resume_run(bigint)
    TO myapp_web;
GRANT SELECT ON pgflow_worker TO myapp_web;
-- The admin's other pages: periodic schedules, the queues dashboard (limits
-- and rate windows) and lock contention.
GRANT SELECT ON pgflow_periodic, pgflow_resource, pgflow_queue_limit, pgflow_queue_rate_shard,
                pgflow_contention
    TO myapp_web;
GRANT EXECUTE ON FUNCTION django_pgflow.rate_used(text, timestamptz) TO myapp_web;
