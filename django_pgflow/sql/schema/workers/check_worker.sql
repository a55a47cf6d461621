CREATE OR REPLACE FUNCTION django_pgflow.check_worker(p_worker_id bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    IF p_worker_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM pgflow_worker w WHERE w.id = p_worker_id AND w.state <> 'stopped'
    ) THEN
        RAISE EXCEPTION 'pgflow: worker % is not registered, or has stopped', coalesce(p_worker_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A worker calls register_worker() once, and claims and reports with the id it returned.';
    END IF;
    RETURN p_worker_id;
END;
$$;

COMMENT ON FUNCTION django_pgflow.check_worker(bigint) IS
'Returns p_worker_id when it names a registered worker that has not stopped, else raises invalid_parameter_value.';

REVOKE EXECUTE ON FUNCTION django_pgflow.check_worker(bigint) FROM PUBLIC;
