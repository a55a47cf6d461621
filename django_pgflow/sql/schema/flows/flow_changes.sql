CREATE OR REPLACE FUNCTION django_pgflow.flow_changes(p_flow_id bigint, p_flow jsonb)
RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
    -- What a definition changes in a stored version, one clause each: the
    -- error of a refused sync lists them so that nobody has to diff by hand.
    WITH old_steps AS (
        SELECT s.slug, s.step_type, to_jsonb(s) - 'id' - 'flow_id' - 'index' - 'dep_count' - 'is_leaf' AS opts
        FROM pgflow_step s WHERE s.flow_id = p_flow_id
    ), new_steps AS (
        SELECT e->>'slug' AS slug, e->>'step_type' AS step_type, e AS opts
        FROM jsonb_array_elements(p_flow->'steps') e
    ), old_deps AS (
        SELECT d.step_slug || ' <- ' || d.dep_slug AS dep FROM pgflow_step_dep d WHERE d.flow_id = p_flow_id
    ), new_deps AS (
        SELECT DISTINCT (e->>0) || ' <- ' || (e->>1) AS dep FROM jsonb_array_elements(p_flow->'deps') e
    ), changes AS (
        SELECT 1 AS o, 'steps added: ' || string_agg(n.slug, ', ' ORDER BY n.slug) AS c
        FROM new_steps n WHERE n.slug NOT IN (SELECT slug FROM old_steps)
        UNION ALL
        SELECT 2, 'steps removed: ' || string_agg(o.slug, ', ' ORDER BY o.slug)
        FROM old_steps o WHERE o.slug NOT IN (SELECT slug FROM new_steps)
        UNION ALL
        SELECT 3, 'steps changed kind: ' || string_agg(format('%s (%s -> %s)', o.slug, o.step_type, n.step_type), ', ' ORDER BY o.slug)
        FROM old_steps o JOIN new_steps n USING (slug) WHERE o.step_type <> n.step_type
        UNION ALL
        SELECT 4, 'dependencies added: ' || string_agg(dep, ', ' ORDER BY dep)
        FROM (SELECT dep FROM new_deps EXCEPT SELECT dep FROM old_deps) a
        UNION ALL
        SELECT 5, 'dependencies removed: ' || string_agg(dep, ', ' ORDER BY dep)
        FROM (SELECT dep FROM old_deps EXCEPT SELECT dep FROM new_deps) r
        UNION ALL
        SELECT 6, 'options changed: ' || string_agg(format('%s.%s', o.slug, k.key), ', ' ORDER BY o.slug, k.key)
        FROM old_steps o JOIN new_steps n USING (slug)
        CROSS JOIN LATERAL jsonb_each(o.opts) k
        WHERE k.key NOT IN ('slug', 'step_type')
          AND (n.opts -> k.key) IS DISTINCT FROM (CASE WHEN k.value = 'null' THEN NULL ELSE k.value END)
          AND NOT (k.value = 'null' AND n.opts -> k.key = 'null')
    )
    SELECT coalesce(string_agg(c, '; ' ORDER BY o), 'none') FROM changes WHERE c IS NOT NULL;
$$;

COMMENT ON FUNCTION django_pgflow.flow_changes(bigint, jsonb) IS
'What a sync_flow() definition changes in stored flow version p_flow_id, as text: steps added and removed, steps whose kind changed, dependencies added and removed, step options changed (step.option).';

REVOKE EXECUTE ON FUNCTION django_pgflow.flow_changes(bigint, jsonb) FROM PUBLIC;
