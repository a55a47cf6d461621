CREATE OR REPLACE FUNCTION django_pgflow.resources_problem(p_resources jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path FROM CURRENT
AS $$
    SELECT CASE WHEN r.name IS NULL
                THEN format('needs resource %s, which PGFLOW["RESOURCES"] does not declare', quote_literal(x.key))
                ELSE format('needs %s of resource %s, whose capacity is %s', x.value, quote_literal(x.key), r.capacity)
           END
    FROM jsonb_each_text(CASE WHEN jsonb_typeof(p_resources) = 'object' THEN p_resources END) AS x(key, value)
    LEFT JOIN pgflow_resource r ON r.name = x.key
    WHERE r.name IS NULL OR x.value::numeric > r.capacity
    ORDER BY x.key
    LIMIT 1;
$$;

COMMENT ON FUNCTION django_pgflow.resources_problem(jsonb) IS
'NULL when every resource p_resources names is declared with enough capacity for the amount asked, else why the request can never be met (the first such resource by name).';

REVOKE EXECUTE ON FUNCTION django_pgflow.resources_problem(jsonb) FROM PUBLIC;
