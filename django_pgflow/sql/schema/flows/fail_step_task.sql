CREATE OR REPLACE FUNCTION django_pgflow.fail_step_task(
    p_run_id bigint, p_step_slug text, p_task_index integer, p_error jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_policy text;
BEGIN
    UPDATE pgflow_step_task
    SET status = 'failed', error = p_error, finished_at = now()
    WHERE run_id = p_run_id AND step_slug = p_step_slug AND task_index = p_task_index
      AND status IN ('queued', 'started');
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT s.on_failure INTO v_policy FROM pgflow_step_state st JOIN pgflow_step s ON s.id = st.step_id
    WHERE st.run_id = p_run_id AND st.step_slug = p_step_slug AND st.status = 'started';
    IF FOUND THEN
        PERFORM django_pgflow.apply_failure_policy(p_run_id, p_step_slug, v_policy, p_error);
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.fail_step_task(bigint, text, integer, jsonb) IS
'Records that a step task failed for good (its attempts are spent) and applies the step''s on_failure policy.';

REVOKE EXECUTE ON FUNCTION django_pgflow.fail_step_task(bigint,text,integer,jsonb) FROM PUBLIC;
