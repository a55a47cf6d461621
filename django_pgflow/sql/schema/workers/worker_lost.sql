CREATE OR REPLACE FUNCTION django_pgflow.worker_lost(p_worker_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    WITH lost AS (
        UPDATE pgflow_worker SET state = 'lost', stopped_at = now()
        WHERE id = p_worker_id AND state = 'running'
        RETURNING id
    )
    SELECT EXISTS (SELECT 1 FROM lost);
$$;

COMMENT ON FUNCTION django_pgflow.worker_lost(bigint) IS
'Marks a running worker lost (its supervisor saw its process die); its own heartbeat, should it come back, marks it running again. Returns whether it changed anything.';

REVOKE EXECUTE ON FUNCTION django_pgflow.worker_lost(bigint) FROM PUBLIC;
