CREATE OR REPLACE FUNCTION pgflow.fail_run(p_run_id bigint, p_step_slug text, p_error jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
AS $$
BEGIN
    UPDATE pgflow_run
    SET status = 'failed', finished_at = now(),
        error = coalesce(p_error, '{}'::jsonb) || jsonb_build_object('step', p_step_slug)
    WHERE id = p_run_id AND status = 'started';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE pgflow_step_state SET status = 'failed', error = p_error, finished_at = now()
    WHERE run_id = p_run_id AND step_slug = p_step_slug AND status IN ('created', 'started');
    UPDATE pgflow_step_state SET status = 'cancelled', finished_at = now()
    WHERE run_id = p_run_id AND status IN ('created', 'started');
    PERFORM pgflow.cancel_step_jobs(p_run_id);
END;
$$;

COMMENT ON FUNCTION pgflow.fail_run(bigint, text, jsonb) IS
'Fails a run because of one step: that step failed, the other unfinished steps cancelled with their jobs.';
