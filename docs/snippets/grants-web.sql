-- The web role: enqueues jobs, starts flows, reads their status.
-- Run as the role that ran `migrate`, with the same search_path.
GRANT USAGE ON SCHEMA django_pgflow TO myapp_web;
GRANT EXECUTE ON FUNCTION
    django_pgflow.enqueue(text, text, jsonb, jsonb, integer, timestamptz, float8,
                          integer, float8, float8, float8, text, jsonb, text, jsonb),
    django_pgflow.enqueue_many(jsonb),
    django_pgflow.enqueue_batch(jsonb, integer[], jsonb, jsonb, jsonb),
    django_pgflow.start_flow(text, jsonb, text, jsonb),
    django_pgflow.get_run_with_states(bigint)
    TO myapp_web;
-- Reading only: job and run status, a run's events (run.events(),
-- run.wait()), and the flow definitions that start_flow() checks against the
-- code before it starts a run.
GRANT SELECT ON pgflow_job, pgflow_run, pgflow_step_state, pgflow_step_task, pgflow_event,
                pgflow_flow, pgflow_step, pgflow_step_dep
    TO myapp_web;
