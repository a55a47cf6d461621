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
    v_step pgflow_step;
    v_input jsonb;
    v_items jsonb;
BEGIN
    SELECT * INTO v_run FROM pgflow_run WHERE id = p_run_id;
    SELECT * INTO v_step FROM pgflow_step WHERE flow_id = v_run.flow_id AND slug = p_step_slug;
    v_input := django_pgflow.step_input(p_run_id, p_step_slug);

    -- condition: run only when the input contains it; condition_not (pgflow's
    -- ifNot, unless= in Python): run only when it does not.
    IF v_step.condition IS NOT NULL AND NOT (coalesce(v_input, 'null'::jsonb) @> v_step.condition)
       OR v_step.condition_not IS NOT NULL AND coalesce(v_input, 'null'::jsonb) @> v_step.condition_not THEN
        PERFORM django_pgflow.apply_failure_policy(
            p_run_id, p_step_slug, v_step.on_condition_false,
            jsonb_build_object('error', 'ConditionNotMet',
                'message', format('step %s: input does not match its condition %s', p_step_slug,
                                  CASE WHEN v_step.condition IS NOT NULL
                                            AND NOT (coalesce(v_input, 'null'::jsonb) @> v_step.condition)
                                       THEN v_step.condition::text
                                       ELSE 'not ' || v_step.condition_not::text END)));
        RETURN;
    END IF;

    IF v_step.step_type = 'map' THEN
        v_items := django_pgflow.map_items(v_run, v_step, v_input);
        IF v_items IS NULL THEN
            RETURN;  -- not an array: the run failed
        END IF;
    ELSE
        v_items := jsonb_build_array(v_input);
    END IF;

    UPDATE pgflow_step_state SET status = 'started', started_at = now(),
        remaining_tasks = jsonb_array_length(v_items), initial_tasks = jsonb_array_length(v_items)
    WHERE run_id = p_run_id AND step_slug = p_step_slug;
    IF jsonb_array_length(v_items) = 0 THEN
        PERFORM django_pgflow.complete_step(p_run_id, p_step_slug, '[]'::jsonb);
    ELSE
        PERFORM django_pgflow.queue_step_tasks(v_run, v_step, v_items);
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.start_step(bigint, text) IS
'Starts one ready step: checks its condition, checks a map step''s input is an array (a type violation fails the run naming both steps), completes a map over [] at once, else queues one job per task.';

REVOKE EXECUTE ON FUNCTION django_pgflow.start_step(bigint, text) FROM PUBLIC;
