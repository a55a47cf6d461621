CREATE OR REPLACE FUNCTION django_pgflow.fail_run(p_run_id bigint, p_step_slug text, p_error jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- An internal step of a cascade: it runs inside an entry point (start_flow,
-- on_step_job, cancel_run, resume_run) whose SET enable_seqscan = off still
-- holds here. Repeating it would cost a GUC save/restore per call.
AS $$
BEGIN
    -- The steps first, then the run: the run's own event is the last of its
    -- failure, so a listener that stops at it has seen the steps' events too.
    PERFORM 1 FROM pgflow_run WHERE id = p_run_id AND status = 'started' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE pgflow_step_state SET status = 'failed', error = p_error, finished_at = now()
    WHERE run_id = p_run_id AND step_slug = p_step_slug AND status IN ('created', 'started');
    UPDATE pgflow_step_state SET status = 'cancelled', finished_at = now()
    WHERE run_id = p_run_id AND status IN ('created', 'started');
    UPDATE pgflow_run
    SET status = 'failed', finished_at = now(),
        error = coalesce(p_error, '{}'::jsonb) || jsonb_build_object('step', p_step_slug)
    WHERE id = p_run_id;
    -- Once the run has ended: its jobs' cancellations then cascade no further.
    PERFORM django_pgflow.cancel_step_jobs(p_run_id);
    PERFORM django_pgflow.queue_compensation(p_run_id);
END;
$$;

COMMENT ON FUNCTION django_pgflow.fail_run(bigint, text, jsonb) IS
'Fails a run because of one step: that step failed, the other unfinished steps cancelled with their jobs, then the run (its event comes after its steps''), and queues its compensation.';

REVOKE EXECUTE ON FUNCTION django_pgflow.fail_run(bigint,text,jsonb) FROM PUBLIC;
