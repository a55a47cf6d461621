CREATE OR REPLACE FUNCTION django_pgflow.remove_flow(p_flow_slug text, p_force boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_active integer;
    v_runs bigint[];
BEGIN
    PERFORM 1 FROM pgflow_flow WHERE slug = p_flow_slug FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgflow: unknown flow %', quote_literal(coalesce(p_flow_slug, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*) INTO v_active FROM pgflow_run WHERE flow_slug = p_flow_slug AND status = 'started';
    IF v_active > 0 AND NOT coalesce(p_force, false) THEN
        RAISE EXCEPTION 'pgflow: flow % has % active run(s): cancel them first, or force', quote_literal(p_flow_slug), v_active
            USING ERRCODE = 'object_in_use',
                  HINT = 'A forced removal deletes running jobs too; their workers'' reports are then ignored.';
    END IF;
    v_runs := ARRAY(SELECT id FROM pgflow_run WHERE flow_slug = p_flow_slug ORDER BY id FOR UPDATE);
    -- Jobs first (their slots are cleared by the statement trigger), then the
    -- run tables, then the definitions.
    DELETE FROM pgflow_job WHERE run_id = ANY (v_runs);
    DELETE FROM pgflow_step_task WHERE run_id = ANY (v_runs);
    DELETE FROM pgflow_step_state WHERE run_id = ANY (v_runs);
    DELETE FROM pgflow_run WHERE id = ANY (v_runs);
    DELETE FROM pgflow_step_dep d USING pgflow_flow f WHERE d.flow_id = f.id AND f.slug = p_flow_slug;
    DELETE FROM pgflow_step s USING pgflow_flow f WHERE s.flow_id = f.id AND f.slug = p_flow_slug;
    DELETE FROM pgflow_flow WHERE slug = p_flow_slug;
    RETURN cardinality(v_runs);
END;
$$;

COMMENT ON FUNCTION django_pgflow.remove_flow(text, boolean) IS
'Deletes every version of a flow with its runs, their step states, tasks and jobs; returns how many runs it deleted. Refuses (object_in_use) while a run is active, unless p_force. For development and retired flows; the owner''s alone (pgflow_remove_flow).';

REVOKE EXECUTE ON FUNCTION django_pgflow.remove_flow(text, boolean) FROM PUBLIC;
