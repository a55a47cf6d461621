CREATE OR REPLACE FUNCTION django_pgflow.complete_many(p_ids bigint[], p_attempts integer[], p_results jsonb[])
RETURNS SETOF bigint
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
    UPDATE pgflow_job j
    SET status = 'completed', result = r.result, finished_at = now(), lease_expires_at = NULL
    FROM unnest(p_ids, p_attempts, p_results) AS r(id, attempt, result)
    WHERE j.id = r.id AND j.attempts = r.attempt AND j.status = 'started'
    RETURNING j.id;
$$;

COMMENT ON FUNCTION django_pgflow.complete_many(bigint[], integer[], jsonb[]) IS
'complete() for many jobs in one statement; returns the ids it applied. Ids it does not return were late reports, ignored.';
