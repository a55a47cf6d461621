CREATE OR REPLACE FUNCTION django_pgflow.complete_step_task(
    p_run_id bigint, p_step_slug text, p_task_index integer, p_output jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_remaining integer;
    v_type text;
BEGIN
    UPDATE pgflow_step_task
    SET status = 'completed', output = p_output, finished_at = now()
    WHERE run_id = p_run_id AND step_slug = p_step_slug AND task_index = p_task_index
      AND status IN ('queued', 'started');
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- O(1) per task: a counter, not a count over the step's tasks.
    UPDATE pgflow_step_state SET remaining_tasks = remaining_tasks - 1
    WHERE run_id = p_run_id AND step_slug = p_step_slug AND status = 'started'
    RETURNING remaining_tasks INTO v_remaining;
    IF NOT FOUND OR v_remaining > 0 THEN
        RETURN;
    END IF;

    SELECT s.step_type INTO v_type FROM pgflow_step_state st JOIN pgflow_step s ON s.id = st.step_id
    WHERE st.run_id = p_run_id AND st.step_slug = p_step_slug;
    IF v_type = 'map' THEN
        -- The one aggregation of a map step, in element order.
        PERFORM django_pgflow.complete_step(p_run_id, p_step_slug, (
            SELECT jsonb_agg(t.output ORDER BY t.task_index) FROM pgflow_step_task t
            WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug));
    ELSE
        PERFORM django_pgflow.complete_step(p_run_id, p_step_slug, p_output);
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_step_task(bigint, text, integer, jsonb) IS
'Records a step task''s output; the last task of a step completes the step (a map step''s output is its tasks'' outputs in element order, aggregated once).';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete_step_task(bigint,text,integer,jsonb) FROM PUBLIC;
