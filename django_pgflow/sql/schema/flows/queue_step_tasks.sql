CREATE OR REPLACE FUNCTION django_pgflow.queue_step_tasks(p_run pgflow_run, p_step pgflow_step, p_items jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_flow pgflow_flow;
BEGIN
    SELECT * INTO v_flow FROM pgflow_flow WHERE id = p_run.flow_id;
    -- One job per task: the job is the claimable message (one claim path).
    -- A map task gets its item, a root step the run input, as its one
    -- argument; a dependent step gets its dependencies' outputs by name.
    WITH items AS (
        SELECT (e.ord - 1)::integer AS idx, e.item
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
    ),
    jobs AS (
        INSERT INTO pgflow_job (
            queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
            max_attempts, retry_delay, max_retry_delay, timeout, errors, created_at,
            run_id, step_slug, task_index, resources, gated, metadata
        )
        SELECT p_step.queue, django_pgflow.step_task_name(p_run.flow_slug, p_step.slug),
               CASE WHEN p_step.step_type = 'map' OR p_step.dep_count = 0
                    THEN jsonb_build_array(i.item) ELSE '[]'::jsonb END,
               CASE WHEN p_step.step_type = 'single' AND p_step.dep_count > 0
                    THEN i.item ELSE '{}'::jsonb END,
               'queued', p_step.priority, now() + make_interval(secs => p_step.start_delay), 0, 0,
               coalesce(p_step.max_attempts, v_flow.max_attempts),
               coalesce(p_step.base_delay, v_flow.base_delay), 3600,
               coalesce(p_step.timeout, v_flow.timeout), '[]', now(),
               p_run.id, p_step.slug, i.idx, p_step.resources,
               django_pgflow.gated(p_step.resources, NULL,
                                   EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = p_step.queue)),
               p_run.metadata
        FROM items i ORDER BY i.idx
        RETURNING id, task_index
    )
    INSERT INTO pgflow_step_task (run_id, step_slug, task_index, status, job_id, attempts, created_at)
    SELECT p_run.id, p_step.slug, jobs.task_index, 'queued', jobs.id, 0, now() FROM jobs;
END;
$$;

COMMENT ON FUNCTION django_pgflow.queue_step_tasks(pgflow_run, pgflow_step, jsonb) IS
'Queues a started step''s tasks, one job and one step task per element of p_items, with the step''s options (falling back on the flow''s) and its resources.';

REVOKE EXECUTE ON FUNCTION django_pgflow.queue_step_tasks(pgflow_run, pgflow_step, jsonb) FROM PUBLIC;
