-- start_step() gives each task's job the step's resources.
CREATE OR REPLACE FUNCTION django_pgflow.start_step(p_run_id bigint, p_step_slug text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_run pgflow_run;
    v_flow pgflow_flow;
    v_step pgflow_step;
    v_input jsonb;
    v_items jsonb;
    v_source text;
    v_count integer;
BEGIN
    SELECT * INTO v_run FROM pgflow_run WHERE id = p_run_id;
    SELECT * INTO v_flow FROM pgflow_flow WHERE id = v_run.flow_id;
    SELECT * INTO v_step FROM pgflow_step WHERE flow_id = v_run.flow_id AND slug = p_step_slug;
    v_input := django_pgflow.step_input(p_run_id, p_step_slug);

    IF v_step.condition IS NOT NULL AND NOT (coalesce(v_input, 'null'::jsonb) @> v_step.condition) THEN
        PERFORM django_pgflow.apply_failure_policy(
            p_run_id, p_step_slug, v_step.on_condition_false,
            jsonb_build_object('error', 'ConditionNotMet',
                'message', format('step %s: input does not match its condition %s', p_step_slug, v_step.condition)));
        RETURN;
    END IF;

    IF v_step.step_type = 'map' THEN
        IF v_step.dep_count = 0 THEN
            v_items := v_run.input;
            v_source := 'the run input';
        ELSE
            SELECT d.dep_slug INTO v_source FROM pgflow_step_dep d
            WHERE d.flow_id = v_run.flow_id AND d.step_slug = p_step_slug;
            v_items := v_input -> v_source;
            v_source := format('step %s', v_source);
        END IF;
        IF jsonb_typeof(v_items) IS DISTINCT FROM 'array' THEN
            PERFORM django_pgflow.fail_run(p_run_id, p_step_slug, jsonb_build_object(
                'error', 'TypeViolation',
                'message', format('map step %s expects an array from %s, got %s',
                                  p_step_slug, v_source, coalesce(jsonb_typeof(v_items), 'nothing'))));
            RETURN;
        END IF;
        v_count := jsonb_array_length(v_items);
        IF v_count = 0 THEN
            UPDATE pgflow_step_state SET status = 'started', started_at = now(),
                remaining_tasks = 0, initial_tasks = 0
            WHERE run_id = p_run_id AND step_slug = p_step_slug;
            PERFORM django_pgflow.complete_step(p_run_id, p_step_slug, '[]'::jsonb);
            RETURN;
        END IF;
    ELSE
        v_count := 1;
    END IF;

    UPDATE pgflow_step_state SET status = 'started', started_at = now(),
        remaining_tasks = v_count, initial_tasks = v_count
    WHERE run_id = p_run_id AND step_slug = p_step_slug;

    -- One job per task: the job is the claimable message (one claim path).
    WITH items AS (
        SELECT (e.ord - 1)::integer AS idx, e.item
        FROM jsonb_array_elements(CASE WHEN v_step.step_type = 'map' THEN v_items
                                       ELSE jsonb_build_array(v_input) END)
             WITH ORDINALITY AS e(item, ord)
    ),
    jobs AS (
        INSERT INTO pgflow_job (
            queue, task_name, args, kwargs, status, priority, run_at, attempts, failures,
            max_attempts, retry_delay, max_retry_delay, timeout, errors, created_at,
            run_id, step_slug, task_index, resources, gated
        )
        SELECT v_step.queue, django_pgflow.step_task_name(v_run.flow_slug, p_step_slug),
               CASE WHEN v_step.step_type = 'map' OR v_step.dep_count = 0
                    THEN jsonb_build_array(i.item) ELSE '[]'::jsonb END,
               CASE WHEN v_step.step_type = 'single' AND v_step.dep_count > 0
                    THEN i.item ELSE '{}'::jsonb END,
               'queued', v_step.priority, now() + make_interval(secs => v_step.start_delay), 0, 0,
               coalesce(v_step.max_attempts, v_flow.max_attempts),
               coalesce(v_step.base_delay, v_flow.base_delay), 3600,
               coalesce(v_step.timeout, v_flow.timeout), '[]', now(),
               p_run_id, p_step_slug, i.idx, v_step.resources,
               v_step.resources IS NOT NULL
                   OR EXISTS (SELECT 1 FROM pgflow_queue_limit l WHERE l.queue = v_step.queue)
        FROM items i ORDER BY i.idx
        RETURNING id, task_index
    )
    INSERT INTO pgflow_step_task (run_id, step_slug, task_index, status, job_id, attempts, created_at)
    SELECT p_run_id, p_step_slug, jobs.task_index, 'queued', jobs.id, 0, now() FROM jobs;
END;
$$;

COMMENT ON FUNCTION django_pgflow.start_step(bigint, text) IS
'Starts one ready step: checks its condition, checks a map step''s input is an array (a type violation fails the run naming both steps), completes a map over [] at once, else queues one job per task.';
