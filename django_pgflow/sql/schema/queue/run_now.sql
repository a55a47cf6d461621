CREATE OR REPLACE FUNCTION django_pgflow.run_now(p_job_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_queue text;
BEGIN
    UPDATE pgflow_job SET run_at = now()
    WHERE id = p_job_id AND status = 'queued' AND run_at > now()
    RETURNING queue INTO v_queue;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('django_pgflow', v_queue);
    RETURN true;
END;
$$;

COMMENT ON FUNCTION django_pgflow.run_now(bigint) IS
'Makes a queued job whose run_at is in the future ready now (run_at = now()) and wakes the workers of its queue. Returns false for a job that is not queued, or already ready.';

REVOKE EXECUTE ON FUNCTION django_pgflow.run_now(bigint) FROM PUBLIC;
