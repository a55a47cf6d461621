-- A failure is reported by the worker holding the attempt (fail) or on its
-- behalf by whoever finds it lost (reap, and the supervisor of a dead
-- process: fail_attempt). An error payload nothing could read back is
-- replaced by one that says so: a report of failure never fails.
DROP FUNCTION IF EXISTS django_pgflow.fail(bigint, integer, jsonb, boolean);

CREATE OR REPLACE FUNCTION django_pgflow.readable_error(p_error jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_problem text := django_pgflow.json_problem(p_error);
BEGIN
    IF jsonb_typeof(p_error) IS DISTINCT FROM 'object' THEN
        v_problem := format('is a JSON %s, not an object', coalesce(jsonb_typeof(p_error), 'NULL'));
    ELSIF v_problem IS NULL AND octet_length(p_error::text) > django_pgflow.max_payload_bytes() THEN
        v_problem := format('is %s bytes of JSON, over the limit of %s bytes',
                            octet_length(p_error::text), django_pgflow.max_payload_bytes());
    END IF;
    IF v_problem IS NULL THEN
        RETURN p_error;
    END IF;
    RETURN jsonb_build_object('error', 'InvalidErrorReport', 'traceback', NULL,
                              'message', 'the error reported for this attempt ' || v_problem);
END;
$$;

COMMENT ON FUNCTION django_pgflow.readable_error(jsonb) IS
'Returns p_error when it is a JSON object every part of the system can read back (json_problem, max_payload_bytes), else an error object saying what was wrong with it.';

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

CREATE OR REPLACE FUNCTION django_pgflow.fail(
    p_worker_id bigint,
    p_job_id bigint,
    p_attempt integer,
    p_error jsonb,
    p_retry boolean DEFAULT true
)
RETURNS text
LANGUAGE plpgsql VOLATILE
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
