CREATE OR REPLACE FUNCTION django_pgflow.check_json(p_what text, p_value jsonb, p_limit integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text := django_pgflow.json_problem(p_value);
    v_size integer := octet_length(p_value::text);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: % %', p_what, v_problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_size > coalesce(p_limit, django_pgflow.max_payload_bytes()) THEN
        RAISE EXCEPTION 'pgflow: % is % bytes of JSON, over the limit of % bytes', p_what, v_size,
                coalesce(p_limit, django_pgflow.max_payload_bytes())
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'PGFLOW["MAX_PAYLOAD_BYTES"] sets the limit. Store large data elsewhere and pass a reference.';
    END IF;
    RETURN v_size;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_json(text, jsonb, integer) IS
'Returns the size of p_value in bytes of JSON text, or raises invalid_parameter_value naming p_what when json_problem() finds a problem or the size is over p_limit (default: max_payload_bytes()).';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_json(text,jsonb,integer) FROM PUBLIC;
