-- A job is refused at enqueue when it asks for what no worker could ever
-- give: a resource nobody declared, or more of one than its capacity. While
-- it waited, such a job kept every later job of the resource waiting too
-- (invariant 13).
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

CREATE OR REPLACE FUNCTION django_pgflow.check_possible(p_resources jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text := django_pgflow.resources_problem(p_resources);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: the job % and could never run', v_problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Declare the resource with enough capacity in PGFLOW["RESOURCES"] and restart the workers (or run pgflow_sync), or ask for less.';
    END IF;
    RETURN p_resources;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_possible(jsonb) IS
'Returns p_resources, or raises invalid_parameter_value when resources_problem() says the request can never be met.';
