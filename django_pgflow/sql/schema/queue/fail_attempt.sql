CREATE OR REPLACE FUNCTION django_pgflow.fail_attempt(
    p_job_id bigint,
    p_attempt integer,
    p_error jsonb,
    p_retry boolean DEFAULT true
)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_job pgflow_job;
    v_error jsonb;
BEGIN
    SELECT * INTO v_job FROM pgflow_job
    WHERE id = p_job_id AND attempts = p_attempt AND status = 'started'
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE LOG 'pgflow: ignored late failure of job % attempt %', p_job_id, p_attempt;
        RETURN NULL;
    END IF;

    v_error := django_pgflow.readable_error(p_error)
        || jsonb_build_object('attempt', p_attempt, 'at', now(), 'worker_id', v_job.worker_id);

    IF coalesce(p_retry, true) AND v_job.failures + 1 < v_job.max_attempts THEN
        UPDATE pgflow_job
        SET status = 'queued', failures = failures + 1, errors = errors || jsonb_build_array(v_error),
            run_at = now() + django_pgflow.backoff(v_job.failures + 1, retry_delay, max_retry_delay),
            worker_id = NULL, lease_expires_at = NULL
        WHERE id = p_job_id;
        RETURN 'queued';
    END IF;

    UPDATE pgflow_job
    SET status = 'failed', failures = failures + 1, errors = errors || jsonb_build_array(v_error),
        finished_at = now(), lease_expires_at = NULL
    WHERE id = p_job_id;
    RETURN 'failed';
END;
$$;

COMMENT ON FUNCTION django_pgflow.fail_attempt(bigint, integer, jsonb, boolean) IS
'Records a failed attempt whoever holds it (reap; fenced by the attempt number only; NULL when that attempt no longer holds the job). With attempts left, and p_retry, requeues the job after an exponential backoff with jitter and returns ''queued''; otherwise returns ''failed''. Not for workers: they call fail().';

REVOKE EXECUTE ON FUNCTION django_pgflow.fail_attempt(bigint,integer,jsonb,boolean) FROM PUBLIC;
