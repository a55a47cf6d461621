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
    -- A live worker stops itself: stopping it from elsewhere would hand its
    -- running jobs to others while it still runs them. Its own connections
    -- hold its liveness lock (keep_alive); a dead one's are gone with it.
    IF (django_pgflow.worker_sessions(p_worker_id)).others
       AND NOT django_pgflow.speaks_for(p_worker_id) THEN
        RAISE EXCEPTION 'pgflow: worker % is alive in another session; only it may stop itself', p_worker_id
            USING ERRCODE = 'object_in_use',
                  HINT = 'Send the worker process SIGTERM: it finishes its jobs, hands back the rest and stops.';
    END IF;
    v_released := django_pgflow.release(p_worker_id);
    UPDATE pgflow_worker SET state = 'stopped', stopped_at = now(), last_heartbeat = now()
    WHERE id = p_worker_id;
    RETURN v_released;
END;
$$;

COMMENT ON FUNCTION django_pgflow.stop_worker(bigint) IS
'Marks a worker stopped after handing back whatever it still held; returns how many jobs it released. Refused (object_in_use) for a worker alive in other sessions when the caller does not speak for it (speaks_for): a live worker stops itself.';

REVOKE EXECUTE ON FUNCTION django_pgflow.stop_worker(bigint) FROM PUBLIC;
