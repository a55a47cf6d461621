CREATE OR REPLACE FUNCTION django_pgflow.add_step(
    p_flow_slug text,
    p_step_slug text,
    p_deps text[] DEFAULT '{}',
    p_max_attempts integer DEFAULT NULL,
    p_base_delay float8 DEFAULT NULL,
    p_timeout float8 DEFAULT NULL,
    p_start_delay float8 DEFAULT 0,
    p_step_type text DEFAULT 'single',
    p_queue text DEFAULT 'default',
    p_priority integer DEFAULT 0,
    p_on_failure text DEFAULT 'fail',
    p_condition jsonb DEFAULT NULL,
    p_condition_not jsonb DEFAULT NULL,
    p_on_condition_false text DEFAULT 'skip',
    p_resources jsonb DEFAULT NULL
)
RETURNS pgflow_step
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_flow pgflow_flow;
    v_step pgflow_step;
    v_missing text;
BEGIN
    SELECT * INTO v_flow FROM pgflow_flow WHERE slug = p_flow_slug ORDER BY version DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pgflow: unknown flow %: create_flow() it first', quote_literal(coalesce(p_flow_slug, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF EXISTS (SELECT 1 FROM pgflow_run r WHERE r.flow_id = v_flow.id) THEN
        RAISE EXCEPTION 'pgflow: flow % version % already has runs: create_flow() a new version to change it', p_flow_slug, v_flow.version
            USING ERRCODE = 'object_in_use';
    END IF;
    PERFORM django_pgflow.check_flow_step(jsonb_build_object(
        'slug', p_step_slug, 'step_type', p_step_type, 'on_failure', p_on_failure,
        'on_condition_false', p_on_condition_false, 'max_attempts', p_max_attempts,
        'priority', p_priority, 'queue', p_queue, 'resources', p_resources, 'condition', p_condition,
        'condition_not', p_condition_not, 'base_delay', p_base_delay, 'timeout', p_timeout,
        'start_delay', p_start_delay), NULL);
    SELECT d INTO v_missing FROM unnest(coalesce(p_deps, '{}')) d
    WHERE NOT EXISTS (SELECT 1 FROM pgflow_step s WHERE s.flow_id = v_flow.id AND s.slug = d) LIMIT 1;
    IF FOUND OR p_step_type = 'map' AND cardinality(p_deps) > 1
       OR EXISTS (SELECT 1 FROM pgflow_step s WHERE s.flow_id = v_flow.id AND s.slug = p_step_slug) THEN
        RAISE EXCEPTION 'pgflow: flow %: step % %', p_flow_slug, p_step_slug,
            CASE WHEN v_missing IS NOT NULL THEN format('depends on %s, which is not an earlier step', v_missing)
                 WHEN p_step_type = 'map' AND cardinality(p_deps) > 1 THEN 'is a map step with more than one dependency'
                 ELSE 'is defined twice' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO pgflow_step (
        flow_id, slug, index, step_type, dep_count, is_leaf, max_attempts, base_delay, timeout,
        start_delay, queue, priority, on_failure, condition, condition_not, on_condition_false, resources)
    SELECT v_flow.id, p_step_slug, count(*)::integer, p_step_type, cardinality(coalesce(p_deps, '{}')), true,
           p_max_attempts, p_base_delay, p_timeout, p_start_delay, p_queue, p_priority, p_on_failure,
           p_condition, p_condition_not, p_on_condition_false, django_pgflow.check_resources(p_resources)
    FROM pgflow_step s WHERE s.flow_id = v_flow.id
    RETURNING * INTO v_step;
    INSERT INTO pgflow_step_dep (flow_id, step_slug, dep_slug)
    SELECT DISTINCT v_flow.id, p_step_slug, d FROM unnest(coalesce(p_deps, '{}')) d;
    UPDATE pgflow_step SET is_leaf = false WHERE flow_id = v_flow.id AND slug = ANY (p_deps);
    RETURN v_step;
END;
$$;

COMMENT ON FUNCTION django_pgflow.add_step(text, text, text[], integer, float8, float8, float8, text, text, integer, text, jsonb, jsonb, text, jsonb) IS
'Adds a step to the latest version of a flow defined in SQL (create_flow), after the steps it depends on (p_deps: their slugs, all defined already, so no cycle can be written; a map step has one at most), with the checks of the Flow DSL. Refuses a version that has runs. Returns the step.';

REVOKE EXECUTE ON FUNCTION django_pgflow.add_step(text, text, text[], integer, float8, float8, float8, text, text, integer, text, jsonb, jsonb, text, jsonb) FROM PUBLIC;
