CREATE OR REPLACE FUNCTION django_pgflow.size_slot_pool(p_kind text, p_name text, p_capacity integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_active integer;
    v_count integer;
BEGIN
    -- Exactly `capacity` slots count: retired ones come back first, new ones
    -- follow; past the capacity, free slots go and held ones retire (a later
    -- call drops them once their jobs are done).
    SELECT count(*) INTO v_active FROM pgflow_slot s
    WHERE s.kind = p_kind AND s.name = p_name AND NOT s.retired;
    IF v_active < p_capacity THEN
        UPDATE pgflow_slot s SET retired = false
        WHERE s.kind = p_kind AND s.name = p_name
          AND s.n IN (SELECT o.n FROM pgflow_slot o
                      WHERE o.kind = p_kind AND o.name = p_name AND o.retired
                      ORDER BY o.n LIMIT p_capacity - v_active);
        GET DIAGNOSTICS v_count = ROW_COUNT;
        INSERT INTO pgflow_slot (kind, name, n, job_id, attempt, retired)
        SELECT p_kind, p_name, m.top + g, NULL, NULL, false
        FROM (SELECT coalesce(max(s.n), 0) AS top FROM pgflow_slot s
              WHERE s.kind = p_kind AND s.name = p_name) m
        CROSS JOIN generate_series(1, p_capacity - v_active - v_count) g;
    ELSIF v_active > p_capacity THEN
        DELETE FROM pgflow_slot s
        WHERE s.kind = p_kind AND s.name = p_name
          AND s.n IN (SELECT o.n FROM pgflow_slot o
                      WHERE o.kind = p_kind AND o.name = p_name AND o.job_id IS NULL
                      ORDER BY o.n DESC LIMIT v_active - p_capacity);
        GET DIAGNOSTICS v_count = ROW_COUNT;
        UPDATE pgflow_slot s SET retired = true
        WHERE s.kind = p_kind AND s.name = p_name
          AND s.n IN (SELECT o.n FROM pgflow_slot o
                      WHERE o.kind = p_kind AND o.name = p_name AND NOT o.retired
                      ORDER BY o.n DESC LIMIT v_active - p_capacity - v_count);
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.size_slot_pool(text, text, integer) IS
'sync_slots()''s second pass over one pool: brings its active (not retired) slots to p_capacity, reviving retired slots before adding new ones, dropping free slots before retiring held ones.';

REVOKE EXECUTE ON FUNCTION django_pgflow.size_slot_pool(text, text, integer) FROM PUBLIC;
