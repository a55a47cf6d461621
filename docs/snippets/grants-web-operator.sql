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
