CREATE OR REPLACE FUNCTION django_pgflow.check_key(p_what text, p_key text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_key = '' OR length(p_key) > 255 THEN
        RAISE EXCEPTION 'pgflow: % must be NULL or a non-empty string of at most 255 characters, got % characters', p_what, length(p_key)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_key;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_key(text, text) IS
'Returns a unique or lock key unchanged (NULL included), or raises invalid_parameter_value for an empty or over-255-character key.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_key(text,text) FROM PUBLIC;
