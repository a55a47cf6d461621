CREATE OR REPLACE FUNCTION django_pgflow.complete_step(p_run_id bigint, p_step_slug text, p_output jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
BEGIN
    UPDATE pgflow_step_state
    SET status = 'completed', output = p_output, finished_at = now(), remaining_tasks = 0
    WHERE run_id = p_run_id AND step_slug = p_step_slug;
    PERFORM django_pgflow.release_dependents(p_run_id, p_step_slug);
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete_step(bigint, text, jsonb) IS
'Completes a step with its output, then releases its dependents and starts those that became ready.';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete_step(bigint,text,jsonb) FROM PUBLIC;
