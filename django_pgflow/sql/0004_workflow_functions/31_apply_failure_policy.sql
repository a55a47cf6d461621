CREATE OR REPLACE FUNCTION pgflow.apply_failure_policy(
    p_run_id bigint, p_step_slug text, p_policy text, p_error jsonb
)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
AS $$
BEGIN
    IF p_policy = 'skip' THEN
        PERFORM pgflow.skip_step(p_run_id, p_step_slug, false, p_error);
    ELSIF p_policy = 'skip_cascade' THEN
        PERFORM pgflow.skip_step(p_run_id, p_step_slug, true, p_error);
    ELSE
        PERFORM pgflow.fail_run(p_run_id, p_step_slug, p_error);
    END IF;
END;
$$;

COMMENT ON FUNCTION pgflow.apply_failure_policy(bigint, text, text, jsonb) IS
'What a step does when it fails for good or its condition is false: fail the run, skip the step, or skip it with everything downstream.';
