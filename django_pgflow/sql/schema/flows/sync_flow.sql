CREATE OR REPLACE FUNCTION django_pgflow.sync_flow(p_flow jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_flow pgflow_flow;
    v_same_shape boolean;
BEGIN
    PERFORM django_pgflow.check_flow(p_flow);
    -- Two processes syncing at once (migrate and a worker) take turns.
    PERFORM pg_advisory_xact_lock(hashtext('django_pgflow.sync_flows'));
    SELECT * INTO v_flow FROM pgflow_flow
    WHERE slug = p_flow->>'slug' AND version = (p_flow->>'version')::integer;
    IF NOT FOUND THEN
        INSERT INTO pgflow_flow (slug, version, shape_hash, max_attempts, base_delay, timeout,
                                 compensation_queue, created_at)
        VALUES (p_flow->>'slug', (p_flow->>'version')::integer, coalesce(p_flow->>'shape_hash', ''),
                (p_flow->>'max_attempts')::integer, (p_flow->>'base_delay')::float8,
                (p_flow->>'timeout')::float8, p_flow->>'compensation_queue', now())
        RETURNING * INTO v_flow;
        PERFORM django_pgflow.insert_flow_steps(v_flow.id, p_flow);
        RETURN format('%s v%s created', v_flow.slug, v_flow.version);
    END IF;

    -- The shape is the graph: steps, their kind, their dependencies.
    v_same_shape := (SELECT array_agg(s.slug || ':' || s.step_type ORDER BY s.slug) FROM pgflow_step s WHERE s.flow_id = v_flow.id)
                    = (SELECT array_agg((e->>'slug') || ':' || (e->>'step_type') ORDER BY e->>'slug') FROM jsonb_array_elements(p_flow->'steps') e)
                AND (SELECT coalesce(array_agg(d.step_slug || '<' || d.dep_slug ORDER BY d.step_slug || '<' || d.dep_slug), '{}')
                     FROM pgflow_step_dep d WHERE d.flow_id = v_flow.id)
                    = (SELECT coalesce(array_agg(DISTINCT (e->>0) || '<' || (e->>1)), '{}')
                       FROM jsonb_array_elements(p_flow->'deps') e);
    IF NOT v_same_shape AND EXISTS (SELECT 1 FROM pgflow_run r WHERE r.flow_id = v_flow.id) THEN
        RAISE EXCEPTION 'pgflow: flow % version % already has runs and its shape changed: declare version = % (runs in flight finish on version %). Changes: %',
                quote_literal(v_flow.slug), v_flow.version, v_flow.version + 1, v_flow.version,
                django_pgflow.flow_changes(v_flow.id, p_flow)
            USING ERRCODE = 'object_in_use';
    END IF;
    RETURN django_pgflow.update_flow(v_flow, p_flow, v_same_shape);
END;
$$;

COMMENT ON FUNCTION django_pgflow.sync_flow(jsonb) IS
'Writes one version of a flow definition ({"slug", "version", "max_attempts", "base_delay", "timeout", "shape_hash", "steps": [...in topological order], "deps": [[step, depends_on], ...]}) after check_flow(): creates it, updates its options in place when its graph is unchanged, replaces it when it has no runs yet; refuses (object_in_use) a changed graph under runs. Returns what changed, or NULL.';

REVOKE EXECUTE ON FUNCTION django_pgflow.sync_flow(jsonb) FROM PUBLIC;
