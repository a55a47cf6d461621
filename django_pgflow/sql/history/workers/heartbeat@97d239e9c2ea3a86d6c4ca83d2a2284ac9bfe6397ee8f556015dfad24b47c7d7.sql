CREATE OR REPLACE FUNCTION django_pgflow.heartbeat(p_worker_id bigint, p_lease_margin float8 DEFAULT 30)
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
    v_extended integer;
BEGIN
    UPDATE pgflow_worker
    SET last_heartbeat = now(), state = CASE WHEN state = 'lost' THEN 'running' ELSE state END,
        stopped_at = CASE WHEN state = 'lost' THEN NULL ELSE stopped_at END
    WHERE id = p_worker_id;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    -- A live worker keeps at least a margin of lease on what it still holds,
    -- so a report on its way is not beaten by the reaper.
    UPDATE pgflow_job
    SET lease_expires_at = greatest(lease_expires_at, now() + make_interval(secs => p_lease_margin))
    WHERE worker_id = p_worker_id AND status = 'started';
    GET DIAGNOSTICS v_extended = ROW_COUNT;
    RETURN v_extended;
END;
$$;

COMMENT ON FUNCTION django_pgflow.heartbeat(bigint, float8) IS
'Records a heartbeat of a worker and extends the leases of its started jobs to at least now() + margin. Returns how many leases it touched, or -1 for an unknown worker.';

REVOKE EXECUTE ON FUNCTION django_pgflow.heartbeat(bigint,double precision) FROM PUBLIC;
