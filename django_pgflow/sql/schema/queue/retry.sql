CREATE OR REPLACE FUNCTION django_pgflow.retry(p_job_id bigint, p_delay float8 DEFAULT 0)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_job pgflow_job;
    v_holder bigint;
BEGIN
    PERFORM django_pgflow.check_seconds('retry delay', p_delay);
    SELECT * INTO v_job FROM pgflow_job WHERE id = p_job_id AND status IN ('failed', 'cancelled')
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF v_job.run_id IS NOT NULL THEN
        RAISE EXCEPTION 'pgflow: job % carries task % of step % of run %: resume the run instead',
            p_job_id, v_job.task_index, quote_literal(v_job.step_slug), v_job.run_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'resume_run(run_id) re-runs the failed steps and keeps the completed ones.';
    END IF;
    IF v_job.unique_key IS NOT NULL THEN
        SELECT id INTO v_holder FROM pgflow_job
        WHERE unique_key = v_job.unique_key AND status IN ('queued', 'started');
        IF FOUND THEN
            RAISE EXCEPTION 'pgflow: cannot retry job %: job % already holds its unique key %',
                p_job_id, v_holder, quote_literal(v_job.unique_key)
                USING ERRCODE = 'unique_violation',
                      HINT = 'Let that job finish or cancel it, then retry.';
        END IF;
    END IF;
    -- A manual retry grants a fresh budget of max_attempts failures; the
    -- errors of earlier attempts stay recorded.
    UPDATE pgflow_job
    SET status = 'queued', failures = 0, run_at = now() + make_interval(secs => p_delay),
        finished_at = NULL, worker_id = NULL, lease_expires_at = NULL, result = NULL
    WHERE id = p_job_id;
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.retry(bigint, float8) IS
'Moves a failed or cancelled job back to queued with a fresh attempt budget. Returns false for a job in any other status; refuses (unique_violation) while another active job holds its unique key.';

REVOKE EXECUTE ON FUNCTION django_pgflow.retry(bigint,double precision) FROM PUBLIC;
