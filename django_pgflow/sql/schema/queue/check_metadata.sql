CREATE OR REPLACE FUNCTION django_pgflow.check_metadata(p_metadata jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_metadata IS NULL OR p_metadata = 'null' THEN
        RETURN '{}';
    END IF;
    IF jsonb_typeof(p_metadata) <> 'object' THEN
        RAISE EXCEPTION 'pgflow: metadata must be a JSON object, got %', jsonb_typeof(p_metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM django_pgflow.check_json('metadata', p_metadata, 65536);
    RETURN p_metadata;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_metadata(jsonb) IS
'Returns the metadata of a job or run ({} for NULL), or raises invalid_parameter_value unless it is a JSON object every reader can load (json_problem) of at most 64 KiB.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_metadata(jsonb) FROM PUBLIC;
