CREATE OR REPLACE FUNCTION django_pgflow.result_problem(p_result jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    RETURN coalesce(
        'result ' || django_pgflow.json_problem(p_result),
        CASE WHEN octet_length(p_result::text) > django_pgflow.max_payload_bytes()
             THEN format('result is %s bytes of JSON, over the limit of %s bytes',
                         octet_length(p_result::text), django_pgflow.max_payload_bytes()) END);
END;
$$;

COMMENT ON FUNCTION django_pgflow.result_problem(jsonb) IS
'NULL when a job result can be stored, else why not (json_problem, or over max_payload_bytes()).';

REVOKE EXECUTE ON FUNCTION django_pgflow.result_problem(jsonb) FROM PUBLIC;
