CREATE OR REPLACE FUNCTION django_pgflow.check_queue_name(p_queue text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_queue IS NULL OR p_queue !~ '^[a-z0-9][a-z0-9_.\-]{0,62}$' THEN
        RAISE EXCEPTION 'pgflow: invalid queue name %', quote_literal(coalesce(p_queue, 'NULL'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Queue names use 1-63 lowercase letters, digits, _, - or ., starting with a letter or digit.';
    END IF;
    RETURN p_queue;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_queue_name(text) IS
'Returns the queue name unchanged, or raises invalid_parameter_value: names are validated identifiers, never spliced into SQL.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_queue_name(text) FROM PUBLIC;
