CREATE OR REPLACE FUNCTION django_pgflow.fail(
    p_worker_id bigint,
    p_job_id bigint,
    p_attempt integer,
    p_error jsonb,
    p_retry boolean DEFAULT true
)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow_job j
                   WHERE j.id = p_job_id AND j.worker_id = p_worker_id
                     AND j.attempts = p_attempt AND j.status = 'started') THEN
        RAISE LOG 'pgflow: ignored failure of job % attempt % from worker %, which does not hold it',
            p_job_id, p_attempt, p_worker_id;
        RETURN NULL;
    END IF;
    RETURN django_pgflow.fail_attempt(p_job_id, p_attempt, p_error, p_retry);
END;
$$;

COMMENT ON FUNCTION django_pgflow.fail(bigint, bigint, integer, jsonb, boolean) IS
'A worker reports a failed attempt of a job it holds: fenced by worker and attempt (NULL, changing nothing, when that worker''s attempt no longer holds the job). See fail_attempt() for what it records.';

REVOKE EXECUTE ON FUNCTION django_pgflow.fail(bigint,bigint,integer,jsonb,boolean) FROM PUBLIC;
