CREATE OR REPLACE FUNCTION django_pgflow.json_problem(p_value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Either problem takes at least 202 characters of JSON text (101 levels
    -- of brackets; a number past a double prints its 309 digits in full):
    -- shorter values skip both searches.
    SELECT CASE
        WHEN octet_length(p_value::text) < 202 THEN NULL
        WHEN jsonb_path_exists(p_value, 'strict $.**{101 to last}')
            THEN 'is nested deeper than 100 levels'
        WHEN jsonb_path_exists(p_value,
                 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
            THEN 'holds a number beyond ±1.7976931348623157e308, which a float cannot hold'
    END;
$$;

COMMENT ON FUNCTION django_pgflow.json_problem(jsonb) IS
'NULL when p_value can be read back by every part of the system, else what is wrong with it: nested deeper than 100 levels, or a number beyond the range of a double (the same rules as django_pgflow.validation).';

REVOKE EXECUTE ON FUNCTION django_pgflow.json_problem(jsonb) FROM PUBLIC;
