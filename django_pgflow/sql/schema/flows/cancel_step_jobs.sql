CREATE OR REPLACE FUNCTION django_pgflow.cancel_step_jobs(p_run_id bigint, p_step_slugs text[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
DECLARE
    v_count integer;
BEGIN
    -- Running attempts are cancelled too: their late reports are then ignored.
    -- Tasks first: when the job trigger then sees the cancellation, the task
    -- is already settled and nothing cascades.
    UPDATE pgflow_step_task SET status = 'cancelled', finished_at = now()
    WHERE run_id = p_run_id AND status IN ('queued', 'started')
      AND (p_step_slugs IS NULL OR step_slug = ANY (p_step_slugs));
    UPDATE pgflow_job SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL
    WHERE run_id = p_run_id AND status IN ('queued', 'started')
      AND (p_step_slugs IS NULL OR step_slug = ANY (p_step_slugs));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.cancel_step_jobs(bigint, text[]) IS
'Cancels the queued and running jobs (and tasks) of a run, or of some of its steps; returns how many jobs.';

REVOKE EXECUTE ON FUNCTION django_pgflow.cancel_step_jobs(bigint,text[]) FROM PUBLIC;
