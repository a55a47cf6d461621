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

REVOKE EXECUTE ON FUNCTION django_pgflow.check_possible(jsonb) FROM PUBLIC;
