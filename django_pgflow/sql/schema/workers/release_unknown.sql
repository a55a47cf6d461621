CREATE OR REPLACE FUNCTION django_pgflow.release_unknown(p_worker_id bigint, p_known bigint[])
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
    -- After a lost connection a worker cannot tell whether its last claim
    -- committed: whatever it holds in the database but not in memory goes back.
    UPDATE pgflow_job
    SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, run_at = now()
    WHERE worker_id = p_worker_id AND status = 'started'
      AND NOT (id = ANY (coalesce(p_known, '{}')));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.release_unknown(bigint, bigint[]) IS
'Hands back every started job of a worker except those it still knows it holds (p_known); used after a reconnect, when the fate of an in-flight claim is unknown.';

REVOKE EXECUTE ON FUNCTION django_pgflow.release_unknown(bigint,bigint[]) FROM PUBLIC;
