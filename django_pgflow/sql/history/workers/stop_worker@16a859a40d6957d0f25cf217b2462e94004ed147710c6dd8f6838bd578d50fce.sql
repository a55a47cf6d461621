CREATE OR REPLACE FUNCTION django_pgflow.stop_worker(p_worker_id bigint)
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
    v_released integer;
BEGIN
    v_released := django_pgflow.release(p_worker_id);
    UPDATE pgflow_worker SET state = 'stopped', stopped_at = now(), last_heartbeat = now()
    WHERE id = p_worker_id;
    RETURN v_released;
END;
$$;

COMMENT ON FUNCTION django_pgflow.stop_worker(bigint) IS
'Marks a worker stopped after handing back whatever it still held; returns how many jobs it released.';

REVOKE EXECUTE ON FUNCTION django_pgflow.stop_worker(bigint) FROM PUBLIC;
