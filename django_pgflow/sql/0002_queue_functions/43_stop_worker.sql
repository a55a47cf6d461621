CREATE OR REPLACE FUNCTION pgflow.stop_worker(p_worker_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_released integer;
BEGIN
    v_released := pgflow.release(p_worker_id);
    UPDATE pgflow_worker SET state = 'stopped', stopped_at = now(), last_heartbeat = now()
    WHERE id = p_worker_id;
    RETURN v_released;
END;
$$;

COMMENT ON FUNCTION pgflow.stop_worker(bigint) IS
'Marks a worker stopped after handing back whatever it still held; returns how many jobs it released.';
