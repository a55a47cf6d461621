CREATE OR REPLACE FUNCTION django_pgflow.prune(p_status text, p_older_than float8, p_batch_size integer DEFAULT 10000)
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
    IF p_status IS NULL OR p_status NOT IN ('completed', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'pgflow: prune only removes finished jobs, not %', quote_literal(coalesce(p_status, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_seconds('prune age', p_older_than);
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'pgflow: prune batch size must be >= 1, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The batch is picked once, into an array: as an IN (subquery) the
    -- planner may run the LIMITed pick more than once (the inner side of a
    -- nested loop), deleting more than a batch per call.
    DELETE FROM pgflow_job
    WHERE id = ANY (ARRAY(
        SELECT id FROM pgflow_job
        WHERE status = p_status AND finished_at <= now() - make_interval(secs => p_older_than)
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    ));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION django_pgflow.prune(text, float8, integer) IS
'Deletes at most p_batch_size jobs of a finished status that finished more than p_older_than seconds ago; call until it returns 0.';

REVOKE EXECUTE ON FUNCTION django_pgflow.prune(text,double precision,integer) FROM PUBLIC;
