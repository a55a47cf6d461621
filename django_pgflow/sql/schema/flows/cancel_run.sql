CREATE OR REPLACE FUNCTION django_pgflow.cancel_run(p_run_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
-- Key lookups only: a table analyzed while small must not turn them into
-- sequential scans that grow with every run (invariant 7).
SET enable_seqscan = off
-- The disabled plan nodes above carry a huge cost on PostgreSQL <= 17, which
-- would make every call cross the JIT thresholds and compile (hundreds of ms).
SET jit = off
AS $$
BEGIN
    -- The steps first, then the run: the run's own event is the last of its
    -- cancellation, so a listener that stops at it has seen the steps' too.
    PERFORM 1 FROM pgflow_run WHERE id = p_run_id AND status = 'started' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE pgflow_step_state SET status = 'cancelled', finished_at = now()
    WHERE run_id = p_run_id AND status IN ('created', 'started');
    UPDATE pgflow_run SET status = 'cancelled', finished_at = now() WHERE id = p_run_id;
    -- Once the run has ended: its jobs' cancellations then cascade no further.
    PERFORM django_pgflow.cancel_step_jobs(p_run_id);
    PERFORM django_pgflow.queue_compensation(p_run_id);
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.cancel_run(bigint) IS
'Cancels a started run: its unfinished steps, then the run (its event comes after its steps''), then its queued tasks; running ones'' late results are ignored. Queues its compensation. False when the run had already finished.';

REVOKE EXECUTE ON FUNCTION django_pgflow.cancel_run(bigint) FROM PUBLIC;
