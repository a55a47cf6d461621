CREATE OR REPLACE FUNCTION django_pgflow.complete(p_job_id bigint, p_attempt integer, p_result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE pgflow_job
    SET status = 'completed', result = p_result, finished_at = now(), lease_expires_at = NULL
    WHERE id = p_job_id AND attempts = p_attempt AND status = 'started';
    IF NOT FOUND THEN
        RAISE LOG 'pgflow: ignored late completion of job % attempt %', p_job_id, p_attempt;
        RETURN false;
    END IF;
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.complete(bigint, integer, jsonb) IS
'Completes one job with its result, fenced by the attempt number it was claimed with: returns false (and changes nothing) when that attempt no longer holds the job.';
