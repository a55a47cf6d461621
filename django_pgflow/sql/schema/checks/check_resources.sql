CREATE OR REPLACE FUNCTION django_pgflow.check_resources(p_resources jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_key text;
    v_value jsonb;
BEGIN
    IF p_resources IS NULL OR p_resources IN ('null'::jsonb, '{}'::jsonb) THEN
        RETURN NULL;  -- no resources: an ungated job
    END IF;
    IF jsonb_typeof(p_resources) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'pgflow: resources must be a JSON object such as {"gpu": 1}, got %',
            jsonb_typeof(p_resources) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_resources) LOOP
        IF v_key !~ '^[a-z0-9][a-z0-9_.\-]{0,62}$' THEN
            RAISE EXCEPTION 'pgflow: invalid resource name %', quote_literal(v_key)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- No capacity exceeds 10000 (check_limits): more could never be given.
        IF jsonb_typeof(v_value) IS DISTINCT FROM 'number'
           OR scale(v_value::numeric) > 0 OR v_value::numeric NOT BETWEEN 1 AND 10000 THEN
            RAISE EXCEPTION 'pgflow: resource % needs a whole amount >= 1 and at most 10000, got %', v_key, v_value
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    RETURN p_resources;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_resources(jsonb) IS
'Returns a job''s resources ({"name": amount, ...}) if valid, NULL for none; raises invalid_parameter_value on a name that is not a queue-style name or an amount that is not a whole number from 1 to 10000 (written without a fraction, as django_pgflow.validation.validate_resources requires an int).';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_resources(jsonb) FROM PUBLIC;
