CREATE OR REPLACE FUNCTION django_pgflow.insert_flow_steps(p_flow_id bigint, p_flow jsonb)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
    INSERT INTO pgflow_step (
        flow_id, slug, index, step_type, dep_count, is_leaf, max_attempts, base_delay, timeout,
        start_delay, queue, priority, on_failure, condition, condition_not, on_condition_false,
        resources)
    SELECT p_flow_id, s.step->>'slug', (s.ord - 1)::integer, s.step->>'step_type',
           (SELECT count(*) FROM jsonb_array_elements(p_flow->'deps') d WHERE d->>0 = s.step->>'slug'),
           NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_flow->'deps') d WHERE d->>1 = s.step->>'slug'),
           (s.step->>'max_attempts')::integer, (s.step->>'base_delay')::float8,
           (s.step->>'timeout')::float8, (s.step->>'start_delay')::float8, s.step->>'queue',
           (s.step->>'priority')::integer, s.step->>'on_failure',
           nullif(s.step->'condition', 'null'), nullif(s.step->'condition_not', 'null'),
           s.step->>'on_condition_false',
           django_pgflow.check_resources(s.step->'resources')
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord);
    INSERT INTO pgflow_step_dep (flow_id, step_slug, dep_slug)
    SELECT DISTINCT p_flow_id, d->>0, d->>1 FROM jsonb_array_elements(p_flow->'deps') d;
$$;

COMMENT ON FUNCTION django_pgflow.insert_flow_steps(bigint, jsonb) IS
'Inserts the steps and dependencies of a checked sync_flow() definition for flow version p_flow_id, deriving index, dep_count and is_leaf.';

REVOKE EXECUTE ON FUNCTION django_pgflow.insert_flow_steps(bigint,jsonb) FROM PUBLIC;
