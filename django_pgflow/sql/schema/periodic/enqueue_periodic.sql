CREATE OR REPLACE FUNCTION django_pgflow.enqueue_periodic(
    p_name text,
    p_tick timestamptz,
    p_next_tick timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_schedule pgflow_periodic;
    v_key text;
    v_job_id bigint;
BEGIN
    -- Database time decides whether a tick is due, not the caller's clock.
    IF p_tick IS NULL OR p_tick > now() THEN
        RETURN NULL;
    END IF;

    -- Concurrent callers queue on the row lock; after the winner commits, the
    -- others re-check last_tick < p_tick, find it false and update nothing.
    -- Ticks between the old last_tick and p_tick are skipped, never enqueued.
    UPDATE pgflow_periodic
    SET last_tick = p_tick, next_tick = coalesce(p_next_tick, next_tick)
    WHERE name = p_name AND (last_tick IS NULL OR last_tick < p_tick)
    RETURNING * INTO v_schedule;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    v_key := format(
        'periodic:%s:%s', p_name, to_char(p_tick AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    );
    SELECT e.id INTO v_job_id
    FROM django_pgflow.enqueue_many(jsonb_build_array(
        v_schedule.job || jsonb_build_object('run_at', p_tick, 'delay', NULL, 'unique_key', v_key)
    )) AS e;

    UPDATE pgflow_periodic SET last_job_id = v_job_id WHERE id = v_schedule.id;
    RETURN v_job_id;
END;
$$;

COMMENT ON FUNCTION django_pgflow.enqueue_periodic(text, timestamptz, timestamptz) IS
'Claims one tick of a periodic schedule: advances last_tick to p_tick and enqueues the schedule''s job (run_at = the tick, unique_key periodic:<name>:<tick in UTC>) in the same transaction. Returns the job id, or NULL when the tick is not due yet or a tick at or after it was already claimed: however many workers call it, one job per tick.';

REVOKE EXECUTE ON FUNCTION django_pgflow.enqueue_periodic(text,timestamp with time zone,timestamp with time zone) FROM PUBLIC;
