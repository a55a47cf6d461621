CREATE OR REPLACE FUNCTION pgflow.retry(p_job_id bigint, p_delay float8 DEFAULT 0)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_delay IS NULL OR p_delay < 0 THEN
        RAISE EXCEPTION 'pgflow: retry delay must be >= 0, got %', p_delay
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A manual retry grants a fresh budget of max_attempts failures; the
    -- errors of earlier attempts stay recorded.
    UPDATE pgflow_job
    SET status = 'queued', failures = 0, run_at = now() + make_interval(secs => p_delay),
        finished_at = NULL, worker_id = NULL, lease_expires_at = NULL, result = NULL
    WHERE id = p_job_id AND status IN ('failed', 'cancelled');
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION pgflow.retry(bigint, float8) IS
'Moves a failed or cancelled job back to queued with a fresh attempt budget. Returns false for a job in any other status.';
