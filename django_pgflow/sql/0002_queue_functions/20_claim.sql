CREATE OR REPLACE FUNCTION pgflow.claim(
    p_worker_id bigint,
    p_queues text[],
    p_limit integer,
    p_lease_margin float8 DEFAULT 30
)
RETURNS TABLE (
    id bigint, queue text, task_name text, args jsonb, kwargs jsonb, attempts integer,
    priority integer, timeout float8
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
BEGIN
    -- Three shapes of the same claim, each matching a partial index on ready
    -- rows exactly (priority DESC, run_at, id), so the plan does not depend
    -- on statistics or on how many finished rows the table holds.
    IF p_queues IS NULL OR cardinality(p_queues) = 0 THEN
        RETURN QUERY
        WITH picked AS (
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgflow_job j
        SET status = 'started', attempts = j.attempts + 1, worker_id = p_worker_id,
            started_at = now(), lease_expires_at = now() + make_interval(secs => j.timeout + p_lease_margin)
        FROM picked WHERE j.id = picked.id
        RETURNING j.id, j.queue::text, j.task_name::text, j.args, j.kwargs, j.attempts,
                  j.priority::integer, j.timeout;
    ELSIF cardinality(p_queues) = 1 THEN
        RETURN QUERY
        WITH picked AS (
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND j.queue = p_queues[1] AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgflow_job j
        SET status = 'started', attempts = j.attempts + 1, worker_id = p_worker_id,
            started_at = now(), lease_expires_at = now() + make_interval(secs => j.timeout + p_lease_margin)
        FROM picked WHERE j.id = picked.id
        RETURNING j.id, j.queue::text, j.task_name::text, j.args, j.kwargs, j.attempts,
                  j.priority::integer, j.timeout;
    ELSE
        RETURN QUERY
        WITH picked AS (
            SELECT j.id FROM pgflow_job j
            WHERE j.status = 'queued' AND j.queue = ANY (p_queues) AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE pgflow_job j
        SET status = 'started', attempts = j.attempts + 1, worker_id = p_worker_id,
            started_at = now(), lease_expires_at = now() + make_interval(secs => j.timeout + p_lease_margin)
        FROM picked WHERE j.id = picked.id
        RETURNING j.id, j.queue::text, j.task_name::text, j.args, j.kwargs, j.attempts,
                  j.priority::integer, j.timeout;
    END IF;
END;
$$;

COMMENT ON FUNCTION pgflow.claim(bigint, text[], integer, float8) IS
'Claims up to p_limit ready jobs (priority DESC, run_at, id) from p_queues (NULL or empty: all) for a worker: FOR UPDATE SKIP LOCKED, so no two workers get the same attempt; sets the lease to now() + timeout + margin and returns the claimed rows with their new attempt number (the fencing token).';
