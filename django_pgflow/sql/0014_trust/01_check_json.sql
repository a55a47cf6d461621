-- What every part of the system must be able to read back. PostgreSQL stores
-- JSON that Python's json module refuses: an integer of 5,000 digits (jsonb
-- also writes 1e5000 out in full) raises ValueError, and arrays nested
-- thousands deep raise RecursionError, in the worker that claims the job and
-- in the admin that lists it. validation.py applies the same two rules in
-- Python (a test feeds both the same values); size is checked here only.
CREATE OR REPLACE FUNCTION django_pgflow.json_problem(p_value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path FROM CURRENT
AS $$
    SELECT CASE
        WHEN jsonb_path_exists(p_value, 'strict $.**{101 to last}')
            THEN 'is nested deeper than 100 levels'
        WHEN jsonb_path_exists(p_value,
                 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
            THEN 'holds a number beyond ±1.7976931348623157e308, which a float cannot hold'
    END;
$$;

COMMENT ON FUNCTION django_pgflow.json_problem(jsonb) IS
'NULL when p_value can be read back by every part of the system, else what is wrong with it: nested deeper than 100 levels, or a number beyond the range of a double (the same rules as django_pgflow.validation).';

-- The largest payload accepted, as PGFLOW["MAX_PAYLOAD_BYTES"] last set it
-- (sync_limits), in bytes of JSON text.
CREATE OR REPLACE FUNCTION django_pgflow.max_payload_bytes()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path FROM CURRENT
AS $$
    SELECT coalesce((SELECT c.max_payload_bytes FROM pgflow_config c WHERE c.id = 1), 1048576);
$$;

COMMENT ON FUNCTION django_pgflow.max_payload_bytes() IS
'The payload size limit in bytes of JSON text: PGFLOW["MAX_PAYLOAD_BYTES"] as sync_limits last stored it (1 MiB until then).';

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
