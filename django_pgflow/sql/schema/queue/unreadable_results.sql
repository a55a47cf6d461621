CREATE OR REPLACE FUNCTION django_pgflow.unreadable_results(p_ids bigint[], p_results jsonb[])
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_all jsonb := to_jsonb(p_results);
BEGIN
    -- A result's values sit one level below the array of them all; a text is
    -- at most six times its binary size (\u escapes).
    IF NOT jsonb_path_exists(v_all, 'strict $.**{102 to last}')
       AND NOT jsonb_path_exists(v_all, 'strict $.** ? (@.type() == "number" && (@ > 1.7976931348623157e308 || @ < -1.7976931348623157e308))')
       AND (pg_column_size(v_all)::bigint * 6 <= django_pgflow.max_payload_bytes()
            OR NOT EXISTS (SELECT 1 FROM unnest(p_results) r
                           WHERE octet_length(r::text) > django_pgflow.max_payload_bytes())) THEN
        RETURN '{}';
    END IF;
    RETURN ARRAY(SELECT r.id FROM unnest(p_ids, p_results) AS r(id, result)
                 WHERE django_pgflow.result_problem(r.result) IS NOT NULL);
END;
$$;

COMMENT ON FUNCTION django_pgflow.unreadable_results(bigint[], jsonb[]) IS
'The ids (of p_ids, paired with p_results) whose result result_problem() refuses; checks the whole batch at once first.';

REVOKE EXECUTE ON FUNCTION django_pgflow.unreadable_results(bigint[],jsonb[]) FROM PUBLIC;
