CREATE OR REPLACE FUNCTION django_pgflow.check_whole(
    p_what text, p_value jsonb, p_min integer, p_max integer, p_optional boolean DEFAULT false
)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_optional AND (p_value IS NULL OR p_value = 'null') THEN
        RETURN NULL;
    END IF;
    -- Whole as written: 2.0 is refused like Python refuses the float 2.0.
    IF jsonb_typeof(p_value) IS DISTINCT FROM 'number' OR scale(p_value::numeric) > 0
       OR p_value::numeric NOT BETWEEN p_min AND p_max THEN
        RAISE EXCEPTION 'pgflow: % must be a whole number from % to %, got %', p_what, p_min, p_max, coalesce(p_value::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_value::integer;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_whole(text, jsonb, integer, integer, boolean) IS
'Returns p_value as an integer when it is a JSON whole number (written without a fraction: 2, not 2.0) from p_min to p_max (or absent, when p_optional), else raises invalid_parameter_value naming p_what.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_whole(text,jsonb,integer,integer,boolean) FROM PUBLIC;
