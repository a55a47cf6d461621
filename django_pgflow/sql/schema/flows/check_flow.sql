CREATE OR REPLACE FUNCTION django_pgflow.check_flow(p_flow jsonb, p_min_steps integer DEFAULT 1)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text;
BEGIN
    IF jsonb_typeof(p_flow) IS DISTINCT FROM 'object' OR coalesce(p_flow->>'slug', '') !~ '^[a-z][a-z0-9_]{0,62}$'
       OR jsonb_typeof(p_flow->'steps') IS DISTINCT FROM 'array' OR jsonb_typeof(p_flow->'deps') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_flow->'steps') NOT BETWEEN p_min_steps AND 1000 THEN
        RAISE EXCEPTION 'pgflow: a flow definition is an object with a valid slug (1-63 lowercase letters, digits or _, starting with a letter), up to 1000 steps and their deps'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_whole('flow version', p_flow->'version', 1, 2147483647),
            django_pgflow.check_whole('flow max_attempts', p_flow->'max_attempts', 1, 1000000),
            django_pgflow.check_seconds('flow base_delay', (p_flow->>'base_delay')::float8),
            django_pgflow.check_seconds('flow timeout', (p_flow->>'timeout')::float8, false);
    IF p_flow->>'compensation_queue' IS NOT NULL THEN
        PERFORM django_pgflow.check_queue_name(p_flow->>'compensation_queue');
    END IF;
    PERFORM django_pgflow.check_flow_step(s.step, s.ord)
    FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord);
    -- The steps come in a topological order: a step depends only on steps
    -- before it, so the graph has no cycle. A map step has one source at most.
    WITH steps AS (
        SELECT s.step->>'slug' AS slug, s.step->>'step_type' AS kind, s.ord
        FROM jsonb_array_elements(p_flow->'steps') WITH ORDINALITY AS s(step, ord)
    ), deps AS (
        SELECT d.dep->>0 AS step_slug, d.dep->>1 AS dep_slug, jsonb_typeof(d.dep) AS t, jsonb_array_length(
                   CASE WHEN jsonb_typeof(d.dep) = 'array' THEN d.dep ELSE '[]' END) AS n
        FROM jsonb_array_elements(p_flow->'deps') AS d(dep)
    )
    SELECT coalesce(
        (SELECT format('step %s is defined twice', slug) FROM steps GROUP BY slug HAVING count(*) > 1 LIMIT 1),
        (SELECT 'each dependency is a [step, depends_on] pair' FROM deps WHERE t <> 'array' OR n <> 2 LIMIT 1),
        (SELECT format('%s depends on %s, which is not an earlier step', d.step_slug, d.dep_slug)
         FROM deps d LEFT JOIN steps s ON s.slug = d.step_slug LEFT JOIN steps p ON p.slug = d.dep_slug
         WHERE s.ord IS NULL OR p.ord IS NULL OR p.ord >= s.ord LIMIT 1),
        (SELECT format('map step %s has more than one dependency', s.slug)
         FROM steps s JOIN deps d ON d.step_slug = s.slug WHERE s.kind = 'map'
         GROUP BY s.slug HAVING count(*) > 1 LIMIT 1))
    INTO v_problem;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: flow %: %', p_flow->>'slug', v_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_flow(jsonb, integer) IS
'Raises invalid_parameter_value when a sync_flow() definition is malformed: bad slugs or options (check_flow_step), a step defined twice, a dependency on a step that is not earlier in the list (which rules out cycles), a map step with two sources.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_flow(jsonb, integer) FROM PUBLIC;
