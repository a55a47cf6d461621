CREATE OR REPLACE FUNCTION django_pgflow.readable_error(p_error jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text := django_pgflow.json_problem(p_error);
BEGIN
    IF jsonb_typeof(p_error) IS DISTINCT FROM 'object' THEN
        v_problem := format('is a JSON %s, not an object', coalesce(jsonb_typeof(p_error), 'NULL'));
    ELSIF v_problem IS NULL AND octet_length(p_error::text) > django_pgflow.max_payload_bytes() THEN
        v_problem := format('is %s bytes of JSON, over the limit of %s bytes',
                            octet_length(p_error::text), django_pgflow.max_payload_bytes());
    END IF;
    IF v_problem IS NULL THEN
        RETURN p_error;
    END IF;
    RETURN jsonb_build_object('error', 'InvalidErrorReport', 'traceback', NULL,
                              'message', 'the error reported for this attempt ' || v_problem);
END;
$$;

COMMENT ON FUNCTION django_pgflow.readable_error(jsonb) IS
'Returns p_error when it is a JSON object every part of the system can read back (json_problem, max_payload_bytes), else an error object saying what was wrong with it.';

REVOKE EXECUTE ON FUNCTION django_pgflow.readable_error(jsonb) FROM PUBLIC;
