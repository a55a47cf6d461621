CREATE OR REPLACE FUNCTION django_pgflow.prune_runs(p_status text, p_older_than float8, p_batch_size integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_ids bigint[];
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('completed', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'pgflow: prune_runs only removes finished runs, not %', quote_literal(coalesce(p_status, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_seconds('prune age', p_older_than);
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'pgflow: prune batch size must be >= 1, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_ids := ARRAY(
        SELECT id FROM pgflow_run
        WHERE status = p_status AND finished_at <= now() - make_interval(secs => p_older_than)
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    );
    -- Children first: their foreign keys do not cascade in the database. The
    -- runs' jobs have no such key; job retention removes them.
    DELETE FROM pgflow_step_task WHERE run_id = ANY (v_ids);
    DELETE FROM pgflow_step_state WHERE run_id = ANY (v_ids);
    DELETE FROM pgflow_run WHERE id = ANY (v_ids);
    RETURN cardinality(v_ids);
END;
$$;

COMMENT ON FUNCTION django_pgflow.prune_runs(text, float8, integer) IS
'Deletes at most p_batch_size runs of a finished status (with their step states and tasks) that finished more than p_older_than seconds ago; call until it returns 0.';

REVOKE EXECUTE ON FUNCTION django_pgflow.prune_runs(text,double precision,integer) FROM PUBLIC;
