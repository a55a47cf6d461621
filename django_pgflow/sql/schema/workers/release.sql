CREATE OR REPLACE FUNCTION django_pgflow.release(p_worker_id bigint, p_job_ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
-- Runs every few seconds on a table that grows with history: its scans must
-- stay on the partial indexes of active (or finished) rows, whatever the
-- statistics say (invariant 7); JIT would only add latency.
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_count integer;
BEGIN
    -- Handing back is not a failure: the attempt number stays spent (it is a
    -- fencing token) but the failure budget is untouched.
    UPDATE pgflow_job
    SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, run_at = now()
    WHERE worker_id = p_worker_id AND status = 'started'
      AND (p_job_ids IS NULL OR id = ANY (p_job_ids));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.release(bigint, bigint[]) IS
'Hands a worker''s started jobs (all, or those listed) back to the queue without counting a failure. Returns how many it released.';

REVOKE EXECUTE ON FUNCTION django_pgflow.release(bigint,bigint[]) FROM PUBLIC;
