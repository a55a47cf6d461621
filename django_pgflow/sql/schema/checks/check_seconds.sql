CREATE OR REPLACE FUNCTION django_pgflow.check_seconds(p_what text, p_value float8, p_allow_zero boolean DEFAULT true)
RETURNS float8
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    -- PostgreSQL orders NaN above every number, Infinity included: the upper
    -- bound refuses both. Longer spans overflow a timestamp once added to
    -- now() (a lease, a retry's run_at), and every claim would then fail.
    IF p_value IS NULL OR p_value < 0 OR (p_value = 0 AND NOT p_allow_zero) OR p_value > 315360000 THEN
        RAISE EXCEPTION 'pgflow: % must be % seconds and at most 315360000 (10 years), got %',
            p_what, CASE WHEN p_allow_zero THEN '>= 0' ELSE '> 0' END, coalesce(p_value::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_value;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_seconds(text, float8, boolean) IS
'Returns p_value unchanged, or raises invalid_parameter_value naming p_what: NULL, NaN, negative, infinite and over-10-year spans are refused.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_seconds(text,double precision,boolean) FROM PUBLIC;
