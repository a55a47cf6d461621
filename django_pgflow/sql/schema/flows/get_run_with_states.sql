CREATE OR REPLACE FUNCTION django_pgflow.get_run_with_states(p_run_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    SELECT jsonb_build_object(
        'run', to_jsonb(r),
        'steps', (SELECT coalesce(jsonb_agg(to_jsonb(st) ORDER BY s.index), '[]'::jsonb)
                  FROM pgflow_step_state st JOIN pgflow_step s ON s.id = st.step_id
                  WHERE st.run_id = r.id))
    FROM pgflow_run r WHERE r.id = p_run_id;
$$;

COMMENT ON FUNCTION django_pgflow.get_run_with_states(bigint) IS
'A run and the states of all its steps, in the flow''s order, as one JSON object {"run": {...}, "steps": [...]} (pgflow''s get_run_with_states); NULL for an unknown run.';

REVOKE EXECUTE ON FUNCTION django_pgflow.get_run_with_states(bigint) FROM PUBLIC;
