CREATE OR REPLACE FUNCTION django_pgflow.update_flow(p_old pgflow_flow, p_flow jsonb, p_same_shape boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_changed integer;
BEGIN
    UPDATE pgflow_flow SET shape_hash = coalesce(p_flow->>'shape_hash', ''),
        max_attempts = (p_flow->>'max_attempts')::integer, base_delay = (p_flow->>'base_delay')::float8,
        timeout = (p_flow->>'timeout')::float8, compensation_queue = p_flow->>'compensation_queue'
    WHERE id = p_old.id
      AND (shape_hash, max_attempts, base_delay, timeout, compensation_queue) IS DISTINCT FROM
          (coalesce(p_flow->>'shape_hash', ''), (p_flow->>'max_attempts')::integer,
           (p_flow->>'base_delay')::float8, (p_flow->>'timeout')::float8,
           p_flow->>'compensation_queue');
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    IF NOT p_same_shape THEN
        -- No run has seen this version: its steps can be written again.
        DELETE FROM pgflow_step_dep WHERE flow_id = p_old.id;
        DELETE FROM pgflow_step WHERE flow_id = p_old.id;
        PERFORM django_pgflow.insert_flow_steps(p_old.id, p_flow);
        RETURN format('%s v%s replaced (it had no runs)', p_old.slug, p_old.version);
    END IF;
    -- The same graph: options change in place (step states point at these
    -- rows); runs in flight pick them up for the steps they have yet to start.
    UPDATE pgflow_step s
    SET index = (n.ord - 1)::integer, max_attempts = (n.step->>'max_attempts')::integer,
        base_delay = (n.step->>'base_delay')::float8, timeout = (n.step->>'timeout')::float8,
        start_delay = (n.step->>'start_delay')::float8, queue = n.step->>'queue',
        priority = (n.step->>'priority')::integer, on_failure = n.step->>'on_failure',
        condition = nullif(n.step->'condition', 'null'), condition_not = nullif(n.step->'condition_not', 'null'),
        on_condition_false = n.step->>'on_condition_false',
        resources = django_pgflow.check_resources(n.step->'resources')
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS n(step, ord)
    WHERE s.flow_id = p_old.id AND s.slug = n.step->>'slug'
      AND (s.index, s.max_attempts, s.base_delay, s.timeout, s.start_delay, s.queue, s.priority,
           s.on_failure, s.condition, s.condition_not, s.on_condition_false, s.resources)
          IS DISTINCT FROM
          ((n.ord - 1)::integer, (n.step->>'max_attempts')::integer, (n.step->>'base_delay')::float8,
           (n.step->>'timeout')::float8, (n.step->>'start_delay')::float8, n.step->>'queue',
           (n.step->>'priority')::smallint, n.step->>'on_failure', nullif(n.step->'condition', 'null'),
           nullif(n.step->'condition_not', 'null'),
           n.step->>'on_condition_false', django_pgflow.check_resources(n.step->'resources'));
    IF v_changed + (CASE WHEN FOUND THEN 1 ELSE 0 END) > 0 THEN
        RETURN format('%s v%s options updated', p_old.slug, p_old.version);
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION django_pgflow.update_flow(pgflow_flow, jsonb, boolean) IS
'sync_flow()''s update of an existing version: options in place when the graph is the same (returns NULL when nothing changed), the whole definition again otherwise.';

REVOKE EXECUTE ON FUNCTION django_pgflow.update_flow(pgflow_flow,jsonb,boolean) FROM PUBLIC;
