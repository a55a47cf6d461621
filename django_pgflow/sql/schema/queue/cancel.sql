CREATE OR REPLACE FUNCTION django_pgflow.cancel(p_job_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE pgflow_job
    SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL
    WHERE id = p_job_id AND status IN ('queued', 'started');
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION django_pgflow.cancel(bigint) IS
'Cancels a queued or started job; a running attempt''s late report is then ignored. Returns false when the job was already finished.';

REVOKE EXECUTE ON FUNCTION django_pgflow.cancel(bigint) FROM PUBLIC;
