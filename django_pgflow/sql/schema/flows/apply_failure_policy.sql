CREATE OR REPLACE FUNCTION django_pgflow.apply_failure_policy(
    p_run_id bigint, p_step_slug text, p_policy text, p_error jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
BEGIN
    IF p_policy = 'skip' THEN
        PERFORM django_pgflow.skip_step(p_run_id, p_step_slug, false, p_error);
    ELSIF p_policy = 'skip_cascade' THEN
        PERFORM django_pgflow.skip_step(p_run_id, p_step_slug, true, p_error);
    ELSE
        PERFORM django_pgflow.fail_run(p_run_id, p_step_slug, p_error);
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.apply_failure_policy(bigint, text, text, jsonb) IS
'What a step does when it fails for good or its condition is false: fail the run, skip the step, or skip it with everything downstream.';

REVOKE EXECUTE ON FUNCTION django_pgflow.apply_failure_policy(bigint,text,text,jsonb) FROM PUBLIC;
