CREATE OR REPLACE FUNCTION django_pgflow.complete(
    p_worker_id bigint, p_job_id bigint, p_attempt integer, p_result jsonb DEFAULT NULL
)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM django_pgflow.complete_many(
                   p_worker_id, ARRAY[p_job_id], ARRAY[p_attempt], ARRAY[coalesce(p_result, 'null')])) THEN
        RETURN true;
    END IF;
    RAISE LOG 'pgflow: ignored completion of job % attempt % from worker %', p_job_id, p_attempt, p_worker_id;
    RETURN false;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete(bigint, bigint, integer, jsonb) IS
'A worker completes one job it holds with its result, fenced by worker and attempt: returns false (and changes nothing) when that worker''s attempt no longer holds the job, or when the result could not be read back (the job then fails: result_problem()). Completing a gated job wakes every worker.';

REVOKE EXECUTE ON FUNCTION django_pgflow.complete(bigint,bigint,integer,jsonb) FROM PUBLIC;
