CREATE OR REPLACE FUNCTION django_pgflow.prune_workers(p_older_than float8)
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
    PERFORM django_pgflow.check_seconds('worker prune age', p_older_than);
    DELETE FROM pgflow_worker w
    WHERE w.state IN ('stopped', 'lost') AND w.stopped_at < now() - make_interval(secs => p_older_than)
      AND NOT EXISTS (SELECT 1 FROM pgflow_job j WHERE j.worker_id = w.id AND j.status = 'started');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.prune_workers(float8) IS
'Deletes worker rows stopped (or lost) more than p_older_than seconds ago that hold no job.';

REVOKE EXECUTE ON FUNCTION django_pgflow.prune_workers(double precision) FROM PUBLIC;
